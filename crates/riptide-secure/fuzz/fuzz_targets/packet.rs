//! Fuzz target `packet`: the harness `riptide_secure::fuzzing::packet` (shared with the
//! regression test `tests/regressions.rs`, which replays `tests/regressions/packet/`). See its
//! docs for the input layout and the invariants checked.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| riptide_secure::fuzzing::packet(data));
