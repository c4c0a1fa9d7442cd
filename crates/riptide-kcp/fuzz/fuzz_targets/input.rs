//! Fuzz target `input`: the harness `riptide_kcp::fuzzing::input` (shared with the regression
//! test `tests/regressions.rs`, which replays `tests/regressions/input/`). See its docs for
//! the input layout and the invariants checked.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| riptide_kcp::fuzzing::input(data));
