//! Fuzz target `segments`: the harness `riptide_kcp::fuzzing::segments` (shared with the regression
//! test `tests/regressions.rs`, which replays `tests/regressions/segments/`). See its docs for
//! the input layout and the invariants checked.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| riptide_kcp::fuzzing::segments(data));
