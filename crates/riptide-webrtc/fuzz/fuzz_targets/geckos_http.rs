//! Fuzz target `geckos_http`: a geckos signalling request as `<method byte><path>\n<body>`
//! through `riptide_webrtc::geckos::http::{route, parse_remote_description}`. Checks: no
//! panic; a route's connection id is always a valid geckos id; a parsed answer's SDP is no
//! longer than the body.
#![no_main]
use libfuzzer_sys::fuzz_target;
use riptide_webrtc::geckos::http::{self, Route};

fuzz_target!(|data: &[u8]| {
    let Some((&m, rest)) = data.split_first() else {
        return;
    };
    let method = ["GET", "POST", "OPTIONS", "PUT"][usize::from(m % 4)];
    let (path, body) = match rest.iter().position(|&b| b == b'\n') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    let path = String::from_utf8_lossy(path);
    match http::route(method, &path) {
        Some(Route::RemoteDescription(id) | Route::AdditionalCandidates(id) | Route::Close(id)) => {
            assert!(http::valid_id(id));
        }
        Some(Route::Connect) => assert_eq!(method, "POST"),
        _ => {}
    }
    if let Ok(sdp) = http::parse_remote_description(body) {
        assert!(sdp.len() <= body.len());
    }
});
