//! Fuzz target: `keel::fuzzing::run("stack", ..)` (see src/fuzzing/user_files.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    keel::fuzzing::run("stack", data);
});
