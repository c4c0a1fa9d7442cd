#![no_main]
mod common;
use libfuzzer_sys::fuzz_target;
use riptide_codec::{CodecSpec, LineConfig};

fuzz_target!(|data: &[u8]| {
    let fail_fast = data.first().is_some_and(|b| b & 0x80 != 0);
    let spec = CodecSpec::Line(LineConfig { max_length: 64, fail_fast, ..LineConfig::default() });
    common::feed(&spec, data, 64);
});
