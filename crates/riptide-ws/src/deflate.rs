//! permessage-deflate negotiation (RFC 7692 §7): the offers a client makes, the one a server
//! picks, and the parameters both then hold to. Compression itself is in `compressor.rs`.

use crate::HandshakeError;

/// The extension's token in `Sec-WebSocket-Extensions`.
pub const EXTENSION_NAME: &str = "permessage-deflate";

/// The smallest window this crate compresses with: zlib (and zlib-rs) cannot make a raw
/// deflate stream with a 256-byte window, so an offer that demands 8 is declined.
pub const MIN_WINDOW_BITS: u8 = 9;

/// What one side is willing to do, as configured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeflateConfig {
    /// Ask (client) or insist (server) that the server resets its compressor after each
    /// message: less memory per connection, worse ratio.
    pub server_no_context_takeover: bool,
    /// Ask that the client resets its compressor after each message.
    pub client_no_context_takeover: bool,
    /// The largest window (9-15) the server may compress with.
    pub server_max_window_bits: u8,
    /// The largest window (9-15) the client may compress with.
    pub client_max_window_bits: u8,
    /// zlib's compression level, 0-9.
    pub level: u32,
    /// Messages shorter than this are sent uncompressed.
    pub threshold: usize,
}

impl Default for DeflateConfig {
    fn default() -> Self {
        Self {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
            level: 6,
            threshold: 0,
        }
    }
}

impl DeflateConfig {
    /// Checks the ranges: window bits 9-15, level 0-9.
    pub fn validate(&self) -> Result<(), String> {
        for (name, bits) in [
            ("server_max_window_bits", self.server_max_window_bits),
            ("client_max_window_bits", self.client_max_window_bits),
        ] {
            if !(MIN_WINDOW_BITS..=15).contains(&bits) {
                return Err(format!("{name} must be 9-15, got {bits}"));
            }
        }
        if self.level > 9 {
            return Err(format!("level must be 0-9, got {}", self.level));
        }
        Ok(())
    }

    /// The offer a client sends: it always says it can honour `client_max_window_bits`.
    pub fn client_offer(&self) -> String {
        extension_header(
            self.server_no_context_takeover,
            self.client_no_context_takeover,
            self.server_max_window_bits,
            Some(self.client_max_window_bits),
        )
    }

    /// The server's choice among a request's `Sec-WebSocket-Extensions` values: the first
    /// permessage-deflate offer it can accept, or `None` (the connection goes on uncompressed,
    /// as it does when this configuration is out of range).
    pub fn negotiate(&self, header_values: &[&str]) -> Option<DeflateParams> {
        self.validate().ok()?;
        header_values
            .iter()
            .flat_map(|value| parse_extensions(value).unwrap_or_default())
            .filter(|ext| ext.name.eq_ignore_ascii_case(EXTENSION_NAME))
            .find_map(|ext| self.accept_offer(&ext.params))
    }

    /// One offer's parameters against this configuration, or `None` to decline it.
    fn accept_offer(&self, params: &[(String, Option<String>)]) -> Option<DeflateParams> {
        let mut agreed = DeflateParams {
            server_no_context_takeover: self.server_no_context_takeover,
            client_no_context_takeover: self.client_no_context_takeover,
            server_max_window_bits: self.server_max_window_bits,
            client_max_window_bits: 15,
            client_window_offered: false,
        };
        let mut seen: Vec<&str> = Vec::new();
        for (name, value) in params {
            if seen.contains(&name.as_str()) {
                return None;
            }
            seen.push(name);
            match (name.as_str(), value) {
                ("server_no_context_takeover", None) => agreed.server_no_context_takeover = true,
                ("client_no_context_takeover", None) => agreed.client_no_context_takeover = true,
                ("server_max_window_bits", Some(v)) => {
                    let bits = window_bits(v)?;
                    if bits < MIN_WINDOW_BITS {
                        return None;
                    }
                    agreed.server_max_window_bits = agreed.server_max_window_bits.min(bits);
                }
                ("client_max_window_bits", v) => {
                    let limit = match v {
                        Some(v) => window_bits(v)?,
                        None => 15,
                    };
                    agreed.client_window_offered = true;
                    agreed.client_max_window_bits = self.client_max_window_bits.min(limit);
                }
                _ => return None,
            }
        }
        Some(agreed)
    }

    /// A client's check of the server's `Sec-WebSocket-Extensions` values against what it
    /// offered: `None` when the server chose no extension.
    pub fn accept_response(
        &self,
        header_values: &[&str],
    ) -> Result<Option<DeflateParams>, HandshakeError> {
        let unoffered = |what: &str| HandshakeError::UnofferedExtension(what.to_owned());
        let mut chosen = None;
        for value in header_values {
            let extensions =
                parse_extensions(value).map_err(|e| HandshakeError::Malformed(e.to_owned()))?;
            for ext in extensions {
                if !ext.name.eq_ignore_ascii_case(EXTENSION_NAME) || chosen.is_some() {
                    return Err(unoffered(&ext.name));
                }
                let mut agreed = DeflateParams {
                    server_no_context_takeover: false,
                    client_no_context_takeover: self.client_no_context_takeover,
                    server_max_window_bits: 15,
                    client_max_window_bits: self.client_max_window_bits,
                    client_window_offered: true,
                };
                let mut seen: Vec<String> = Vec::new();
                for (name, value) in ext.params {
                    if seen.contains(&name) {
                        return Err(unoffered(&name));
                    }
                    match (name.as_str(), &value) {
                        ("server_no_context_takeover", None) => {
                            agreed.server_no_context_takeover = true
                        }
                        ("client_no_context_takeover", None) => {
                            agreed.client_no_context_takeover = true
                        }
                        ("server_max_window_bits", Some(v)) => {
                            let bits = window_bits(v).ok_or_else(|| unoffered(&name))?;
                            if bits > self.server_max_window_bits {
                                return Err(unoffered(&name));
                            }
                            agreed.server_max_window_bits = bits;
                        }
                        ("client_max_window_bits", Some(v)) => {
                            let bits = window_bits(v).ok_or_else(|| unoffered(&name))?;
                            if bits < MIN_WINDOW_BITS {
                                return Err(unoffered(&name));
                            }
                            agreed.client_max_window_bits = agreed.client_max_window_bits.min(bits);
                        }
                        _ => return Err(unoffered(&name)),
                    }
                    seen.push(name);
                }
                if self.server_no_context_takeover && !agreed.server_no_context_takeover {
                    return Err(unoffered("server_no_context_takeover missing"));
                }
                chosen = Some(agreed);
            }
        }
        Ok(chosen)
    }
}

/// The parameters both sides agreed on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeflateParams {
    /// The server resets its compressor after each message (so the client may reset its
    /// decompressor).
    pub server_no_context_takeover: bool,
    /// The client resets its compressor after each message.
    pub client_no_context_takeover: bool,
    /// The server compresses with at most this window.
    pub server_max_window_bits: u8,
    /// The client compresses with at most this window.
    pub client_max_window_bits: u8,
    /// Whether the client's offer allowed a `client_max_window_bits` answer.
    pub client_window_offered: bool,
}

impl DeflateParams {
    /// The server's `Sec-WebSocket-Extensions` answer for these parameters.
    pub fn response_header(&self) -> String {
        let client_bits = self.client_window_offered && self.client_max_window_bits < 15;
        extension_header(
            self.server_no_context_takeover,
            self.client_no_context_takeover,
            self.server_max_window_bits,
            client_bits.then_some(self.client_max_window_bits),
        )
    }
}

/// A permessage-deflate header value: the flags that are set, `server_max_window_bits` below
/// 15, and `client_max_window_bits` when given (bare at 15: "I can honour a limit").
fn extension_header(
    server_reset: bool,
    client_reset: bool,
    server_bits: u8,
    client_bits: Option<u8>,
) -> String {
    let mut out = String::from(EXTENSION_NAME);
    if server_reset {
        out.push_str("; server_no_context_takeover");
    }
    if client_reset {
        out.push_str("; client_no_context_takeover");
    }
    if server_bits < 15 {
        out.push_str(&format!("; server_max_window_bits={server_bits}"));
    }
    match client_bits {
        Some(15) => out.push_str("; client_max_window_bits"),
        Some(bits) => out.push_str(&format!("; client_max_window_bits={bits}")),
        None => {}
    }
    out
}

/// A window-bits value: 8-15 as plain digits, optionally quoted (RFC 7692 §7.1.2).
fn window_bits(value: &str) -> Option<u8> {
    let value = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value);
    if value.is_empty()
        || value.len() > 2
        || !value.bytes().all(|b| b.is_ascii_digit())
        || value.starts_with('0')
    {
        return None;
    }
    value.parse().ok().filter(|bits| (8..=15).contains(bits))
}

/// One extension in a `Sec-WebSocket-Extensions` value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Extension {
    /// The extension's token.
    pub name: String,
    /// Its parameters in order, with their values (quotes kept).
    pub params: Vec<(String, Option<String>)>,
}

/// Splits a `Sec-WebSocket-Extensions` value (`ext; p; p=v, ext2`) into extensions. Quoted
/// values may not hold commas or semicolons (no registered parameter needs them).
pub fn parse_extensions(value: &str) -> Result<Vec<Extension>, &'static str> {
    let mut out = Vec::new();
    for item in value.split(',') {
        let mut parts = item.split(';').map(str::trim);
        let name = parts.next().unwrap_or_default();
        if !is_token(name) {
            return Err("bad extension name");
        }
        let mut params = Vec::new();
        for part in parts {
            let (key, value) = match part.split_once('=') {
                Some((k, v)) => (k.trim(), Some(v.trim())),
                None => (part, None),
            };
            if !is_token(key) || value.is_some_and(|v| v.is_empty()) {
                return Err("bad extension parameter");
            }
            params.push((key.to_ascii_lowercase(), value.map(str::to_owned)));
        }
        out.push(Extension {
            name: name.to_owned(),
            params,
        });
    }
    Ok(out)
}

/// Whether `s` is an HTTP token (RFC 9110 §5.6.2).
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_takes_the_first_acceptable_offer() {
        let config = DeflateConfig::default();
        let offers = ["permessage-deflate; server_max_window_bits=8, permessage-deflate; client_max_window_bits"];
        let agreed = config.negotiate(&offers).unwrap();
        assert_eq!(agreed.server_max_window_bits, 15);
        assert!(agreed.client_window_offered);
        assert_eq!(agreed.response_header(), "permessage-deflate");

        let tight = DeflateConfig {
            client_max_window_bits: 10,
            server_no_context_takeover: true,
            ..config
        };
        let agreed = tight
            .negotiate(&["permessage-deflate; client_max_window_bits; server_max_window_bits=12"])
            .unwrap();
        assert_eq!(
            agreed.response_header(),
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=12; client_max_window_bits=10"
        );
    }

    #[test]
    fn an_invalid_server_configuration_negotiates_nothing() {
        let bad = DeflateConfig {
            server_max_window_bits: 8,
            ..DeflateConfig::default()
        };
        assert_eq!(bad.negotiate(&["permessage-deflate"]), None);
        assert!(DeflateConfig {
            level: 10,
            ..DeflateConfig::default()
        }
        .validate()
        .is_err());
        // A compressor given out-of-range values clamps them instead of failing.
        let mut out = Vec::new();
        crate::Compressor::new(42, 3, false)
            .compress(b"abc", &mut out)
            .unwrap();
        assert!(!out.is_empty());
    }

    #[test]
    fn bad_offers_are_declined() {
        let config = DeflateConfig::default();
        for offer in [
            "permessage-deflate; foo",
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; server_max_window_bits=010",
            "permessage-deflate; server_no_context_takeover=1",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "x-webkit-deflate-frame",
            "permessage-deflate;;",
        ] {
            assert_eq!(config.negotiate(&[offer]), None, "{offer}");
        }
        assert!(config
            .negotiate(&["permessage-deflate; client_max_window_bits=\"10\""])
            .is_some());
    }

    #[test]
    fn client_checks_the_answer() {
        let config = DeflateConfig {
            server_max_window_bits: 12,
            ..DeflateConfig::default()
        };
        assert_eq!(
            config.client_offer(),
            "permessage-deflate; server_max_window_bits=12; client_max_window_bits"
        );
        assert_eq!(config.accept_response(&[]), Ok(None));
        let agreed = config
            .accept_response(&[
                "permessage-deflate; server_max_window_bits=10; client_no_context_takeover",
            ])
            .unwrap()
            .unwrap();
        assert!(agreed.client_no_context_takeover);
        assert_eq!(agreed.server_max_window_bits, 10);
        for bad in [
            "permessage-deflate; server_max_window_bits=13",
            "permessage-deflate, permessage-deflate",
            "x-other",
            "permessage-deflate; client_max_window_bits=8",
            "permessage-deflate; bogus",
        ] {
            assert!(config.accept_response(&[bad]).is_err(), "{bad}");
        }
    }
}
