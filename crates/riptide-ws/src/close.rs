//! Close frames (RFC 6455 §5.5.1, §7.4): the codes, which of them may travel on the wire, and
//! the payload's layout (a 2-byte code, then a UTF-8 reason).

use crate::Error;

/// 1000: the purpose of the connection is fulfilled.
pub const NORMAL: u16 = 1000;
/// 1001: the endpoint is going away (server shutting down, page navigated away).
pub const GOING_AWAY: u16 = 1001;
/// 1002: a protocol error.
pub const PROTOCOL_ERROR: u16 = 1002;
/// 1003: a kind of data the endpoint cannot accept.
pub const UNSUPPORTED_DATA: u16 = 1003;
/// 1005: reported when a close frame had no code; never sent.
pub const NO_STATUS: u16 = 1005;
/// 1006: reported when the connection ended without a close frame; never sent.
pub const ABNORMAL: u16 = 1006;
/// 1007: data inconsistent with the message type (text that is not UTF-8).
pub const INVALID_PAYLOAD: u16 = 1007;
/// 1008: a message that violates the endpoint's policy.
pub const POLICY_VIOLATION: u16 = 1008;
/// 1009: a message too big to process.
pub const MESSAGE_TOO_BIG: u16 = 1009;
/// 1010: the client expected an extension the server did not negotiate.
pub const MANDATORY_EXTENSION: u16 = 1010;
/// 1011: the server hit an unexpected condition.
pub const INTERNAL_ERROR: u16 = 1011;

/// Whether `code` may appear in a close frame: 1000-1003 and 1007-1014 (the IANA registry's
/// assigned codes), or 3000-4999 (libraries and applications). 1004-1006, 1015 and the rest
/// of 0-2999 are reserved or report-only, and a peer sending one gets 1002.
pub fn is_sendable(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// A close frame's content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseFrame {
    /// The code, or [`NO_STATUS`] when the frame had no payload.
    pub code: u16,
    /// The reason (empty when none was given).
    pub reason: String,
}

impl CloseFrame {
    /// Reads a close payload: empty (code 1005), or a sendable code and a UTF-8 reason.
    pub fn parse(payload: &[u8]) -> Result<Self, Error> {
        match payload {
            [] => Ok(Self {
                code: NO_STATUS,
                reason: String::new(),
            }),
            [_] => Err(Error::ClosePayloadTooShort),
            [hi, lo, reason @ ..] => {
                let code = u16::from_be_bytes([*hi, *lo]);
                if !is_sendable(code) {
                    return Err(Error::BadCloseCode(code));
                }
                let reason = std::str::from_utf8(reason).map_err(|_| Error::InvalidUtf8)?;
                Ok(Self {
                    code,
                    reason: reason.to_owned(),
                })
            }
        }
    }

    /// The payload to send: empty for [`NO_STATUS`], otherwise the code and reason. Refuses
    /// a code that may not be sent and a reason over 123 bytes.
    pub fn payload(&self) -> Result<Vec<u8>, Error> {
        if self.code == NO_STATUS && self.reason.is_empty() {
            return Ok(Vec::new());
        }
        if !is_sendable(self.code) {
            return Err(Error::BadCloseCode(self.code));
        }
        if self.reason.len() > 123 {
            return Err(Error::ReasonTooLong);
        }
        let mut out = Vec::with_capacity(self.reason.len().saturating_add(2));
        out.extend_from_slice(&self.code.to_be_bytes());
        out.extend_from_slice(self.reason.as_bytes());
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_on_the_wire() {
        for code in 0..=u16::MAX {
            let payload = code.to_be_bytes();
            let parsed = CloseFrame::parse(&payload);
            assert_eq!(parsed.is_ok(), is_sendable(code), "code {code}");
        }
        for code in [
            0,
            999,
            1004,
            1005,
            1006,
            1015,
            1016,
            2000,
            2999,
            5000,
            u16::MAX,
        ] {
            assert_eq!(
                CloseFrame::parse(&code.to_be_bytes()),
                Err(Error::BadCloseCode(code))
            );
        }
        for code in [
            1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999,
        ] {
            assert!(is_sendable(code));
        }
    }

    #[test]
    fn payload_layout() {
        assert_eq!(CloseFrame::parse(&[]).unwrap().code, NO_STATUS);
        assert_eq!(CloseFrame::parse(&[3]), Err(Error::ClosePayloadTooShort));
        assert_eq!(
            CloseFrame::parse(&[0x03, 0xe8, 0xff]),
            Err(Error::InvalidUtf8)
        );
        let frame = CloseFrame {
            code: 4000,
            reason: "bye ☃".into(),
        };
        assert_eq!(CloseFrame::parse(&frame.payload().unwrap()).unwrap(), frame);
        let long = CloseFrame {
            code: NORMAL,
            reason: "x".repeat(124),
        };
        assert_eq!(long.payload(), Err(Error::ReasonTooLong));
        assert_eq!(
            CloseFrame {
                code: 1006,
                reason: String::new()
            }
            .payload(),
            Err(Error::BadCloseCode(1006))
        );
    }
}
