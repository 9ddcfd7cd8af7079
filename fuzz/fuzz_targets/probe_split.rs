//! Fuzz target: `keel::fuzzing::run("probe_split", ..)` (see src/fuzzing.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    keel::fuzzing::run("probe_split", data);
});
