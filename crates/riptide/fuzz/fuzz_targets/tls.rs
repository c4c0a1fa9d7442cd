//! Fuzz target `tls`: the harness `riptide::fuzzing::tls` (shared with the regression test
//! `tests/regressions.rs`, which replays `tests/regressions/tls/`). See its docs for the
//! input layout and the invariants checked.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| riptide::fuzzing::tls(data));
