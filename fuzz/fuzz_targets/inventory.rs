//! Fuzz target: `keel::fuzzing::run("inventory", ..)` (see src/fuzzing/user_files.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    keel::fuzzing::run("inventory", data);
});
