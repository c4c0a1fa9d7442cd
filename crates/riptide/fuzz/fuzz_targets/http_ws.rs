//! Fuzz target `http_ws`: the harness `riptide::fuzzing::http_ws` (shared with the regression
//! test `tests/regressions.rs`, which replays `tests/regressions/http_ws/`). See its docs for
//! the input layout and the invariants checked.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| riptide::fuzzing::http_ws(data));
