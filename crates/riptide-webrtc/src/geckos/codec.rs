//! geckos.io's data-channel messages, decoded as its `ParseMessage` reads them and encoded as
//! its `SendMessage` writes them.
//!
//! - Binary: a raw message.
//! - Text that JavaScript's `parseInt` reads as a number (optional whitespace, an optional
//!   sign, a digit), or that is not JSON: a raw message.
//! - Other text is JSON: an object `{"<event>": data}` is an `emit` of its first key (in
//!   JavaScript's key order: integer-like keys first, ascending, then the others in order).
//!   Its data `{"MESSAGE": m, "RELIABLE": 1, "ID": "<id>"}` marks a `reliable: true` emit,
//!   repeated by the sender and delivered once ([`super::reliable`]).
//!
//! Decoding is total: every input gives a [`Decoded`], nothing panics (serde_json bounds the
//! nesting depth).

use std::fmt;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::Value;

/// Longest event name accepted, in bytes.
pub const MAX_EVENT_LEN: usize = 256;
/// Longest reliable-message id accepted for deduplication, in bytes (geckos makes 24).
pub const MAX_ID_LEN: usize = 64;
/// The event name geckos uses for raw messages.
pub const RAW_EVENT: &str = "rawMessage";

/// One message from a geckos client.
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded {
    /// `channel.emit(event, data)`.
    Emit {
        /// The event name.
        event: String,
        /// Its data (`null` when the client passed none).
        data: Value,
        /// For `emit(…, { reliable: true })`: the id its repeats share.
        reliable_id: Option<String>,
    },
    /// `channel.raw.emit(data)`.
    Raw {
        /// Whether it came as binary (an `ArrayBuffer`) rather than a string.
        binary: bool,
        /// The bytes.
        data: Vec<u8>,
    },
    /// JSON geckos's server would mis-handle (not an object, an empty object, an event name
    /// over [`MAX_EVENT_LEN`]): dropped.
    Unrecognized,
}

/// Decodes one data-channel message.
pub fn decode(binary: bool, data: &[u8]) -> Decoded {
    let raw = || Decoded::Raw {
        binary,
        data: data.to_vec(),
    };
    if binary {
        return raw();
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return raw();
    };
    if parse_int_is_number(text) {
        return raw();
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let parsed = de.deserialize_any(FirstEntry).and_then(|first| {
        de.end()?;
        Ok(first)
    });
    match parsed {
        Err(_) => raw(),
        Ok(None) => Decoded::Unrecognized,
        Ok(Some((event, _))) if event.len() > MAX_EVENT_LEN => Decoded::Unrecognized,
        Ok(Some((event, data))) => match reliable_parts(data) {
            Ok((message, id)) => Decoded::Emit {
                event,
                data: message,
                reliable_id: Some(id),
            },
            Err(data) => Decoded::Emit {
                event,
                data,
                reliable_id: None,
            },
        },
    }
}

/// Whether JavaScript's `parseInt(text)` is a number: after leading whitespace and one
/// optional sign, an ASCII digit.
fn parse_int_is_number(text: &str) -> bool {
    let rest = text.trim_start_matches(is_js_whitespace);
    let rest = rest
        .strip_prefix('+')
        .or_else(|| rest.strip_prefix('-'))
        .unwrap_or(rest);
    rest.bytes().next().is_some_and(|b| b.is_ascii_digit())
}

/// JavaScript's WhiteSpace and LineTerminator (what `parseInt` skips).
fn is_js_whitespace(c: char) -> bool {
    c.is_whitespace() || c == '\u{feff}'
}

/// `{"MESSAGE": m, "RELIABLE": 1, "ID": id}` with a string id of at most [`MAX_ID_LEN`]
/// bytes: `Ok((m, id))`; anything else back as `Err`.
fn reliable_parts(data: Value) -> Result<(Value, String), Value> {
    let Value::Object(mut map) = data else {
        return Err(data);
    };
    let is_one = map
        .get("RELIABLE")
        .and_then(Value::as_f64)
        .is_some_and(|v| v == 1.0);
    let id_ok = map
        .get("ID")
        .and_then(Value::as_str)
        .is_some_and(|id| id.len() <= MAX_ID_LEN);
    if !(is_one && id_ok) {
        return Err(Value::Object(map));
    }
    let id = match map.remove("ID") {
        Some(Value::String(id)) => id,
        _ => return Err(Value::Object(map)),
    };
    Ok((map.remove("MESSAGE").unwrap_or(Value::Null), id))
}

/// JavaScript's order of an object's keys: array-index-like keys (canonical decimal below
/// 2³² − 1) first, ascending; then the rest in insertion order. Returns the rank of `key`.
fn js_index(key: &str) -> Option<u32> {
    let canonical = key == "0" || (!key.starts_with('0') && !key.is_empty());
    if !canonical || !key.bytes().all(|b| b.is_ascii_digit()) || key.len() > 10 {
        return None;
    }
    key.parse::<u64>()
        .ok()
        .filter(|&n| n < u64::from(u32::MAX))
        .and_then(|n| u32::try_from(n).ok())
}

/// Deserializes a JSON object into its first entry in JavaScript's key order; `None` for
/// any other JSON value or an empty object.
struct FirstEntry;

impl<'de> Visitor<'de> for FirstEntry {
    type Value = Option<(String, Value)>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("JSON")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        // (index rank, key, value); a repeated key keeps its first position, its last value
        // (as JSON.parse does).
        let mut best: Option<(Option<u32>, String, Value)> = None;
        while let Some((key, value)) = map.next_entry::<String, Value>()? {
            let rank = js_index(&key);
            best = match best {
                None => Some((rank, key, value)),
                Some((r, k, _)) if k == key => Some((r, k, value)),
                Some((r, k, v)) => {
                    let earlier = match (rank, r) {
                        (Some(a), Some(b)) => a < b,
                        (Some(_), None) => true,
                        _ => false,
                    };
                    if earlier {
                        Some((rank, key, value))
                    } else {
                        Some((r, k, v))
                    }
                }
            };
        }
        Ok(best.map(|(_, k, v)| (k, v)))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

/// The text of `channel.emit(event, data)`: `{"<event>": data}`, sent as a string.
pub fn encode_emit(event: &str, data: &Value) -> Vec<u8> {
    let mut map = serde_json::Map::with_capacity(1);
    map.insert(event.to_owned(), data.clone());
    // Serializing a Value cannot fail (string keys only).
    serde_json::to_vec(&Value::Object(map)).unwrap_or_default()
}

/// The text of one run of `channel.emit(event, data, { reliable: true })`:
/// `{"<event>": {"MESSAGE": data, "RELIABLE": 1, "ID": "<id>"}}`.
pub fn encode_reliable(event: &str, data: &Value, id: &str) -> Vec<u8> {
    let mut inner = serde_json::Map::with_capacity(3);
    inner.insert("MESSAGE".to_owned(), data.clone());
    inner.insert("RELIABLE".to_owned(), Value::from(1));
    inner.insert("ID".to_owned(), Value::from(id));
    encode_emit(event, &Value::Object(inner))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn text(s: &str) -> Decoded {
        decode(false, s.as_bytes())
    }

    #[test]
    fn emits_raw_and_reliable() {
        assert_eq!(
            text(r#"{"chat":"hi"}"#),
            Decoded::Emit {
                event: "chat".into(),
                data: json!("hi"),
                reliable_id: None
            }
        );
        assert_eq!(
            text(r#"{"chat":{"MESSAGE":{"a":[1]},"RELIABLE":1,"ID":"abc"}}"#),
            Decoded::Emit {
                event: "chat".into(),
                data: json!({"a": [1]}),
                reliable_id: Some("abc".into())
            }
        );
        // RELIABLE other than 1, or a non-string id: an ordinary emit of the whole object.
        let odd = r#"{"e":{"MESSAGE":1,"RELIABLE":2,"ID":"x"}}"#;
        assert!(matches!(
            text(odd),
            Decoded::Emit {
                reliable_id: None,
                ..
            }
        ));
        let odd = r#"{"e":{"MESSAGE":1,"RELIABLE":1,"ID":7}}"#;
        assert!(matches!(
            text(odd),
            Decoded::Emit {
                reliable_id: None,
                ..
            }
        ));
        assert_eq!(
            decode(true, b"{\"chat\":1}"),
            Decoded::Raw {
                binary: true,
                data: b"{\"chat\":1}".to_vec()
            }
        );
        for raw in ["hello", "12", " -3{\"a\":1}", "{not json", "", "\u{feff}7"] {
            assert!(
                matches!(text(raw), Decoded::Raw { binary: false, .. }),
                "{raw}"
            );
        }
        assert_eq!(
            decode(false, &[0xff, 0xfe]),
            Decoded::Raw {
                binary: false,
                data: vec![0xff, 0xfe]
            }
        );
        for odd in ["{}", "[1]", "\"s\"", "true", "null", "{\"a\":1} x"] {
            assert!(
                matches!(text(odd), Decoded::Unrecognized | Decoded::Raw { .. }),
                "{odd}"
            );
        }
        assert_eq!(text("{}"), Decoded::Unrecognized);
        assert_eq!(text("null"), Decoded::Unrecognized);
        let long = format!("{{\"{}\":1}}", "e".repeat(MAX_EVENT_LEN + 1));
        assert_eq!(text(&long), Decoded::Unrecognized);
    }

    #[test]
    fn first_key_in_javascript_order() {
        let first = |s: &str| match text(s) {
            Decoded::Emit { event, data, .. } => (event, data),
            other => panic!("{other:?}"),
        };
        assert_eq!(first(r#"{"b":1,"a":2}"#), ("b".into(), json!(1)));
        assert_eq!(first(r#"{"b":1,"7":2,"3":3}"#), ("3".into(), json!(3)));
        assert_eq!(first(r#"{"b":1,"01":2}"#), ("b".into(), json!(1)));
        assert_eq!(first(r#"{"b":1,"4294967295":2}"#), ("b".into(), json!(1)));
        assert_eq!(
            first(r#"{"b":1,"4294967294":2}"#),
            ("4294967294".into(), json!(2))
        );
        assert_eq!(first(r#"{"b":1,"c":2,"b":3}"#), ("b".into(), json!(3)));
    }

    #[test]
    fn encodes_what_geckos_decodes() {
        assert_eq!(encode_emit("chat", &json!("hi")), br#"{"chat":"hi"}"#);
        assert_eq!(encode_emit("e", &Value::Null), br#"{"e":null}"#);
        let reliable = encode_reliable("chat", &json!(5), "ID24");
        let round = decode(false, &reliable);
        assert_eq!(
            round,
            Decoded::Emit {
                event: "chat".into(),
                data: json!(5),
                reliable_id: Some("ID24".into())
            }
        );
    }
}
