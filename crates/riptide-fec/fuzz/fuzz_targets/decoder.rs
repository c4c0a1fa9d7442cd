//! Fuzz target `decoder`: the harness `riptide_fec::fuzzing::decoder` (shared with the
//! regression test `tests/regressions.rs`, which replays `tests/regressions/decoder/`). See its
//! docs for the input layout and the invariants checked.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| riptide_fec::fuzzing::decoder(data));
