//! Fuzz target: `keel::fuzzing::run("hostname", ..)` (see src/fuzzing.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    keel::fuzzing::run("hostname", data);
});
