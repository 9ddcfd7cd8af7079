//! Fuzz target: `keel::fuzzing::run("check", ..)` (see src/fuzzing.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    keel::fuzzing::run("check", data);
});
