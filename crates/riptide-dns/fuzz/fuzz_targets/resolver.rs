#![no_main]
// The body lives in riptide_dns::harness, shared with tests/regressions.rs.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| riptide_dns::harness::resolver(data));
