#![no_main]
use libfuzzer_sys::fuzz_target;
use riptide_codec::{parse_proxy, ProxyMode, ProxyParse};

fuzz_target!(|data: &[u8]| {
    for mode in [ProxyMode::V1, ProxyMode::V2, ProxyMode::Any] {
        if let Ok(ProxyParse::Done { consumed, .. }) = parse_proxy(data, mode) {
            assert!(consumed <= data.len());
        }
        // Every prefix is either "need more", an error, or the same header.
        let _ = parse_proxy(&data[..data.len() / 2], mode);
    }
});
