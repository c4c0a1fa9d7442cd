//! Streaming UTF-8 validation of a text message as its bytes arrive, so that invalid text is
//! refused (1007) at the first bad byte, not when the message ends (RFC 6455 §8.1).

/// Tracks how much of a growing message buffer is known to be valid UTF-8. Each check scans
/// only the new bytes (plus at most 3 of an unfinished character), so validating a message in
/// any number of pieces costs one pass.
#[derive(Clone, Debug, Default)]
pub struct Utf8Validator {
    checked: usize,
}

impl Utf8Validator {
    /// Checks the bytes of `message` not checked yet. `false` as soon as they cannot be the
    /// start of valid UTF-8; an unfinished character at the end is fine until [`Self::finish`].
    pub fn check(&mut self, message: &[u8]) -> bool {
        let Some(fresh) = message.get(self.checked..) else {
            return false;
        };
        match std::str::from_utf8(fresh) {
            Ok(_) => {
                self.checked = message.len();
                true
            }
            Err(e) if e.error_len().is_none() => {
                self.checked = self.checked.saturating_add(e.valid_up_to());
                true
            }
            Err(_) => false,
        }
    }

    /// Whether `message`, now complete, is valid: checked through, with no unfinished character.
    pub fn finish(&mut self, message: &[u8]) -> bool {
        let ok = self.check(message) && self.checked == message.len();
        self.checked = 0;
        ok
    }

    /// Forgets the current message (after an error).
    pub fn reset(&mut self) {
        self.checked = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces_ok(bytes: &[u8], cut: usize) -> (bool, bool) {
        let mut v = Utf8Validator::default();
        let first = v.check(&bytes[..cut]);
        (first, first && v.finish(bytes))
    }

    #[test]
    fn split_characters_are_fine_until_the_end() {
        let text = "κόσμε ☃ 𝄞".as_bytes();
        for cut in 0..=text.len() {
            assert_eq!(pieces_ok(text, cut), (true, true));
        }
        let mut v = Utf8Validator::default();
        assert!(v.check(&text[..text.len() - 1]));
        assert!(!v.finish(&text[..text.len() - 1]));
    }

    #[test]
    fn invalid_bytes_fail_at_once() {
        // Autobahn 6.4.x: a code point over U+10FFFF fails on its second byte, before the end.
        let mut v = Utf8Validator::default();
        assert!(!v.check(&[0xce, 0xba, 0xf4, 0x90]));
        for bad in [&[0xff][..], &[0xc0, 0x80], &[0xed, 0xa0, 0x80], &[0x80]] {
            assert!(!Utf8Validator::default().check(bad), "{bad:?}");
        }
    }
}
