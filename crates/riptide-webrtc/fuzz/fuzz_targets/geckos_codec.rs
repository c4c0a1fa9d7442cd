//! Fuzz target `geckos_codec`: one geckos data-channel message (first byte: odd = binary,
//! the rest the message) through `riptide_webrtc::geckos::codec::decode`. Checks: no panic;
//! binary is always raw; an emit's event name is bounded, a reliable id too; and what an emit
//! decodes to, encoded again (plain and reliable), decodes to the same event and id.
#![no_main]
use libfuzzer_sys::fuzz_target;
use riptide_webrtc::geckos::codec::{self, Decoded, MAX_EVENT_LEN, MAX_ID_LEN};

fuzz_target!(|data: &[u8]| {
    let Some((&flag, message)) = data.split_first() else {
        return;
    };
    let binary = flag & 1 == 1;
    match codec::decode(binary, message) {
        Decoded::Raw { binary: b, data } => assert!(b == binary && data == message),
        Decoded::Unrecognized => assert!(!binary),
        Decoded::Emit {
            event,
            data,
            reliable_id,
        } => {
            assert!(!binary && event.len() <= MAX_EVENT_LEN);
            assert!(reliable_id.as_ref().is_none_or(|id| id.len() <= MAX_ID_LEN));
            let id = reliable_id.unwrap_or_else(|| "x".to_owned());
            match codec::decode(false, &codec::encode_reliable(&event, &data, &id)) {
                Decoded::Emit {
                    event: e,
                    reliable_id: r,
                    ..
                } => assert!(e == event && r.as_deref() == Some(id.as_str())),
                other => panic!("re-encoded reliable emit decoded as {other:?}"),
            }
            match codec::decode(false, &codec::encode_emit(&event, &data)) {
                Decoded::Emit { event: e, .. } => assert_eq!(e, event),
                other => panic!("re-encoded emit decoded as {other:?}"),
            }
        }
    }
});
