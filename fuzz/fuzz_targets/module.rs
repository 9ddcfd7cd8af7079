//! Fuzz target: `keel::fuzzing::run("module", ..)` (see src/fuzzing/user_files.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    keel::fuzzing::run("module", data);
});
