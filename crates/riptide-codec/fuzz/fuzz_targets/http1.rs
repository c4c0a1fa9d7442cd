#![no_main]
mod common;
use libfuzzer_sys::fuzz_target;
use riptide_codec::{CodecSpec, Http1Config};

fuzz_target!(|data: &[u8]| {
    let spec = CodecSpec::Http1(Http1Config { max_header_size: 1024, max_headers: 16, max_body_size: 4096 });
    common::feed(&spec, data, 4096 + 1024);
});
