#![no_main]
// The body lives in riptide_codec::harness, shared with tests/regressions.rs.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| riptide_codec::harness::ltv(data));
