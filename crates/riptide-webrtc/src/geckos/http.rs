//! geckos.io v2 signalling over HTTP, as pure functions: which route a request is, and the
//! bodies of requests and responses.
//!
//! | request | response |
//! |---|---|
//! | `POST /.wrtc/v2/connections` (optional `Authorization` header) | `{"userData":…,"id":"<24 alphanumerics>","localDescription":{"type":"offer","sdp":…}}` |
//! | `POST /.wrtc/v2/connections/<id>/remote-description` with `{"type":"answer","sdp":…}` | 200 |
//! | `GET /.wrtc/v2/connections/<id>/additional-candidates` | `[]` (ICE-lite: the one candidate is in the offer) |
//! | `POST /.wrtc/v2/connections/<id>/close` | 200 |
//! | `OPTIONS` on any of them (CORS preflight) | 200 |

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The path prefix of every geckos route.
pub const PREFIX: &str = "/.wrtc/v2";
/// Length of a geckos connection id.
pub const ID_LEN: usize = 24;
/// Largest remote-description body accepted, in bytes.
pub const MAX_BODY: usize = 64 * 1024;

/// A request under [`PREFIX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route<'a> {
    /// `OPTIONS`: a CORS preflight, answered 200 with [`cors_headers`].
    Preflight,
    /// `POST /connections`: make a peer and offer.
    Connect,
    /// `POST /connections/<id>/remote-description`: the client's answer.
    RemoteDescription(&'a str),
    /// `GET /connections/<id>/additional-candidates`.
    AdditionalCandidates(&'a str),
    /// `POST /connections/<id>/close`.
    Close(&'a str),
    /// Under the prefix but no such route (404).
    NotFound,
}

/// Which geckos route `method` and `path` (query string allowed, ignored) are; `None` when the
/// path is not under [`PREFIX`] (not geckos's to answer).
pub fn route<'a>(method: &str, path: &'a str) -> Option<Route<'a>> {
    let path = path.split(['?', '#']).next().unwrap_or("");
    let rest = path.strip_prefix(PREFIX)?;
    if !(rest.is_empty() || rest.starts_with('/')) {
        return None;
    }
    if method == "OPTIONS" {
        return Some(Route::Preflight);
    }
    let Some(rest) = rest.strip_prefix("/connections") else {
        return Some(Route::NotFound);
    };
    if rest.is_empty() {
        return Some(if method == "POST" {
            Route::Connect
        } else {
            Route::NotFound
        });
    }
    let mut parts = rest.strip_prefix('/').unwrap_or("").splitn(2, '/');
    let id = parts.next().unwrap_or("");
    let action = parts.next().unwrap_or("");
    if !valid_id(id) {
        return Some(Route::NotFound);
    }
    Some(match (method, action) {
        ("POST", "remote-description") => Route::RemoteDescription(id),
        ("GET", "additional-candidates") => Route::AdditionalCandidates(id),
        ("POST", "close") => Route::Close(id),
        _ => Route::NotFound,
    })
}

/// Whether `id` has the form of a geckos connection id (24 ASCII alphanumerics).
pub fn valid_id(id: &str) -> bool {
    id.len() == ID_LEN && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The CORS headers geckos's server sends on every route, for `origin` (geckos's default
/// is `*`). With `allow_authorization` the client may send its `Authorization` header
/// cross-origin.
pub fn cors_headers(origin: &str, allow_authorization: bool) -> [(&'static str, String); 3] {
    let allowed = if allow_authorization {
        "authorization, content-type"
    } else {
        "content-type"
    };
    [
        ("access-control-allow-origin", origin.to_owned()),
        (
            "access-control-allow-methods",
            "OPTIONS, GET, POST".to_owned(),
        ),
        ("access-control-allow-headers", allowed.to_owned()),
    ]
}

#[derive(Serialize)]
struct Description<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    sdp: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Connection<'a> {
    user_data: &'a Value,
    id: &'a str,
    local_description: Description<'a>,
}

/// The body of a `POST /connections` response. `user_data` must be truthy in JavaScript
/// (geckos's client refuses the connection otherwise): `{}` when there is none.
pub fn connection_body(id: &str, offer_sdp: &str, user_data: &Value) -> Vec<u8> {
    let body = Connection {
        user_data,
        id,
        local_description: Description {
            kind: "offer",
            sdp: offer_sdp,
        },
    };
    serde_json::to_vec(&body).unwrap_or_default()
}

#[derive(Deserialize)]
struct Answer {
    #[serde(rename = "type")]
    kind: String,
    sdp: String,
}

/// Why a remote-description body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// Larger than [`MAX_BODY`].
    #[error("body of {0} bytes exceeds {MAX_BODY}")]
    TooLarge(usize),
    /// Not `{"type":"answer","sdp":"…"}`.
    #[error("not an RTCSessionDescription answer: {0}")]
    Malformed(String),
}

/// The SDP of a `remote-description` body (`JSON.stringify(pc.localDescription)`, an
/// answer). Unknown fields are ignored, as browsers may add some.
pub fn parse_remote_description(body: &[u8]) -> Result<String, BodyError> {
    if body.len() > MAX_BODY {
        return Err(BodyError::TooLarge(body.len()));
    }
    let answer: Answer =
        serde_json::from_slice(body).map_err(|e| BodyError::Malformed(e.to_string()))?;
    if answer.kind != "answer" {
        let kind: String = answer.kind.chars().take(16).collect();
        return Err(BodyError::Malformed(format!("type is {kind:?}")));
    }
    Ok(answer.sdp)
}

/// The body of an `additional-candidates` response: none, ever (the endpoint is ICE-lite and
/// its one candidate is in the offer).
pub const ADDITIONAL_CANDIDATES_BODY: &[u8] = b"[]";

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "abcdefghijklmnopqrstuvwx";

    #[test]
    fn routes() {
        let r = |m, p: &'static str| route(m, p);
        assert_eq!(r("POST", "/.wrtc/v2/connections"), Some(Route::Connect));
        assert_eq!(r("POST", "/.wrtc/v2/connections?x=1"), Some(Route::Connect));
        assert_eq!(r("GET", "/.wrtc/v2/connections"), Some(Route::NotFound));
        assert_eq!(
            r("OPTIONS", "/.wrtc/v2/connections"),
            Some(Route::Preflight)
        );
        let p = format!("/.wrtc/v2/connections/{ID}/remote-description");
        assert_eq!(route("POST", &p), Some(Route::RemoteDescription(ID)));
        let p = format!("/.wrtc/v2/connections/{ID}/additional-candidates");
        assert_eq!(route("GET", &p), Some(Route::AdditionalCandidates(ID)));
        let p = format!("/.wrtc/v2/connections/{ID}/close");
        assert_eq!(route("POST", &p), Some(Route::Close(ID)));
        let p = format!("/.wrtc/v2/connections/{ID}/close/more");
        assert_eq!(route("POST", &p), Some(Route::NotFound));
        let p = "/.wrtc/v2/connections/short/close";
        assert_eq!(route("POST", p), Some(Route::NotFound));
        assert_eq!(r("GET", "/"), None);
        assert_eq!(r("GET", "/.wrtc/v2x"), None);
        assert_eq!(r("GET", "/.wrtc/v2"), Some(Route::NotFound));
    }

    #[test]
    fn bodies() {
        let body = connection_body(ID, "v=0\r\n", &serde_json::json!({}));
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["id"], ID);
        assert_eq!(v["userData"], serde_json::json!({}));
        assert_eq!(v["localDescription"]["type"], "offer");
        assert_eq!(v["localDescription"]["sdp"], "v=0\r\n");
        assert_eq!(
            parse_remote_description(br#"{"type":"answer","sdp":"v=0","x":1}"#),
            Ok("v=0".into())
        );
        assert!(parse_remote_description(br#"{"type":"offer","sdp":"v=0"}"#).is_err());
        assert!(parse_remote_description(b"{").is_err());
        assert!(parse_remote_description(&vec![b' '; MAX_BODY + 1]).is_err());
        assert_eq!(cors_headers("*", true)[2].1, "authorization, content-type");
    }
}
