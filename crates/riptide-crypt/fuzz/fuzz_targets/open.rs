//! Fuzz target `open`: the harness `riptide_crypt::fuzzing::open` (shared with the regression
//! test `tests/regressions.rs`, which replays `tests/regressions/open/`). Byte 0 picks the
//! cipher, the rest is a datagram; see the harness docs for the invariants checked.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| riptide_crypt::fuzzing::open(data));
