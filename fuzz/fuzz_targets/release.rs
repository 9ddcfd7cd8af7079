//! Fuzz target: `keel::fuzzing::run("release", ..)` (see src/fuzzing.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    keel::fuzzing::run("release", data);
});
