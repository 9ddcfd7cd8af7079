//! Fuzz target: `keel::fuzzing::run("ufw", ..)` (see src/fuzzing.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    keel::fuzzing::run("ufw", data);
});
