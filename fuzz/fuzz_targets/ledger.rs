//! Fuzz target: `keel::fuzzing::run("ledger", ..)` (see src/fuzzing.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    keel::fuzzing::run("ledger", data);
});
