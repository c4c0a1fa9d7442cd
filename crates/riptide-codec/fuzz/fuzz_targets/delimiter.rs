#![no_main]
mod common;
use libfuzzer_sys::fuzz_target;
use riptide_codec::{CodecSpec, DelimiterConfig};

fuzz_target!(|data: &[u8]| {
    let spec = CodecSpec::Delimiter(DelimiterConfig {
        delimiters: vec![b"\0".to_vec(), b"||".to_vec()],
        max_frame_length: 64,
        strip_delimiter: true,
        fail_fast: data.first().is_some_and(|b| b & 0x80 != 0),
    });
    common::feed(&spec, data, 64);
});
