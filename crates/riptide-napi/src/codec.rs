//! Codec options from JS (`codecs.lengthField({...})` and friends) to a validated
//! [`CodecSpec`]. The TS layer fills the defaults; this checks what only Rust can.

use napi::bindgen_prelude::Uint8Array;
use napi_derive::napi;
use riptide::codec::{
    ByteOrder, CodecSpec, DelimiterConfig, FixedLengthConfig, FrameError, Http1Config,
    LengthFieldConfig, LineConfig, RespConfig,
};

/// A codec as JS describes it: `kind` plus that kind's options (all filled in by TS).
#[napi(object)]
pub struct NativeCodec {
    /// `line`, `delimiter`, `fixedLength`, `lengthField`, `http1`, `resp` or `websocket`.
    pub kind: String,
    pub max_length: Option<f64>,
    pub strip_delimiter: Option<bool>,
    pub fail_fast: Option<bool>,
    pub crlf: Option<bool>,
    pub delimiters: Option<Vec<Uint8Array>>,
    pub max_frame_length: Option<f64>,
    pub frame_length: Option<f64>,
    /// `big` or `little`.
    pub byte_order: Option<String>,
    pub length_field_offset: Option<f64>,
    pub length_field_length: Option<f64>,
    pub length_adjustment: Option<f64>,
    pub initial_bytes_to_strip: Option<f64>,
    pub length_includes_length_field_length: Option<bool>,
    pub prepender_adjustment: Option<f64>,
    pub max_header_size: Option<f64>,
    pub max_headers: Option<f64>,
    pub max_body_size: Option<f64>,
    /// RESP: the longest bulk string.
    pub max_bulk_length: Option<f64>,
    /// RESP: the most arguments of one command.
    pub max_elements: Option<f64>,
    /// RESP: the longest inline command.
    pub max_inline_length: Option<f64>,
    /// RESP: the most wire bytes of one command.
    pub max_request_size: Option<f64>,
    /// WebSocket: the largest message accepted, in bytes.
    pub max_payload: Option<f64>,
    /// WebSocket: offer permessage-deflate.
    pub compression: Option<bool>,
    /// WebSocket: ms of silence before a ping (and as long again for any answer); 0 never.
    pub idle_timeout: Option<f64>,
    /// WebSocket: ms to wait for the peer's close frame after sending ours.
    pub close_timeout: Option<f64>,
    /// WebSocket: the subprotocols spoken, in order of preference.
    pub subprotocols: Option<Vec<String>>,
}

/// A listener URL, its codec, and whether a PROXY protocol header comes first.
#[napi(object)]
pub struct NativeListen {
    pub url: String,
    pub codec: Option<NativeCodec>,
    /// `v1`, `v2` or `any`; none when absent.
    pub proxy_protocol: Option<String>,
    /// ms the PROXY header may take.
    pub proxy_timeout: Option<f64>,
    /// KCP parameters of a `kcp://` listener.
    pub kcp: Option<crate::kcp::NativeKcp>,
    /// Certificate and options of a `tls://` listener.
    pub tls: Option<crate::tls::NativeTlsServer>,
}

impl NativeListen {
    /// The transport URL to bind (`tcp://` under `tls://`).
    pub fn transport_url(&self) -> Result<String, riptide::Error> {
        crate::tls::transport(&self.url, self.tls.is_some())
    }

    /// The engine's listener options, and the TLS context of a `tls://` listener (its layer
    /// factory is in the options; the context replaces its configuration).
    pub fn options(
        &self,
    ) -> Result<(riptide::ListenOptions, Option<riptide::TlsServerContext>), riptide::Error> {
        let ws = match &self.codec {
            Some(c) if c.kind == "websocket" => Some(c.ws_options()?),
            _ => None,
        };
        let codec = match &ws {
            Some(ws) => Some(std::sync::Arc::new(ws.codec()) as riptide::SharedCodec),
            None => self.codec.as_ref().map(NativeCodec::shared).transpose()?,
        };
        let proxy = match self.proxy_protocol.as_deref() {
            None => None,
            Some("v1") => Some(riptide::codec::ProxyMode::V1),
            Some("v2") => Some(riptide::codec::ProxyMode::V2),
            Some("any") => Some(riptide::codec::ProxyMode::Any),
            Some(other) => {
                return Err(FrameError::InvalidConfig(format!(
                    "proxyProtocol must be 'v1', 'v2' or 'any', got {other:?}"
                ))
                .into())
            }
        };
        let timeout = crate::millis::millis("proxyTimeout", self.proxy_timeout.unwrap_or(3000.0))
            .map_err(|e| FrameError::InvalidConfig(e.to_string()))?
            .max(std::time::Duration::from_millis(1));
        let tls = match &self.tls {
            Some(t) => Some(riptide::TlsServerContext::new(&t.options()?)?),
            None => None,
        };
        let options = riptide::ListenOptions {
            codec,
            // WebSocket above TLS: the layer nearest the codec.
            layers: tls
                .iter()
                .map(|t| t.factory())
                .chain(ws.as_ref().map(riptide::WsOptions::server_factory))
                .collect(),
            proxy_protocol: proxy,
            proxy_timeout: timeout,
            kcp: self.kcp.as_ref().map(|k| k.options()).transpose()?,
        };
        Ok((options, tls))
    }
}

impl NativeCodec {
    /// A WebSocket server's validated options (`kind` is `websocket`).
    pub fn ws_options(&self) -> Result<riptide::WsOptions, riptide::Error> {
        use riptide::ws::{DeflateConfig, ServerConfig, SessionConfig, Timeouts};
        let invalid = |m: String| riptide::Error::InvalidOption(m);
        let max = self.max_payload.unwrap_or(16.0 * 1024.0 * 1024.0);
        // The records between layer and codec carry a 4-byte length (and a kind byte).
        if max.fract() != 0.0 || !(1.0..=2_147_483_000.0).contains(&max) {
            return Err(invalid(format!(
                "maxPayload must be an integer in [1, 2147483000], got {max}"
            )));
        }
        let idle = crate::millis::millis("idleTimeout", self.idle_timeout.unwrap_or(0.0))?;
        let close = crate::millis::millis("closeTimeout", self.close_timeout.unwrap_or(5000.0))?
            .max(std::time::Duration::from_millis(1));
        let subprotocols = self.subprotocols.clone().unwrap_or_default();
        if let Some(bad) = subprotocols
            .iter()
            .find(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_graphic() && b != b','))
        {
            return Err(invalid(format!("subprotocol {bad:?} is not a token")));
        }
        let compression = self.compression.unwrap_or(false);
        Ok(riptide::WsOptions {
            server: ServerConfig {
                subprotocols,
                deflate: compression.then(DeflateConfig::default),
                ..ServerConfig::default()
            },
            session: SessionConfig {
                max_message_size: max as usize,
                ..SessionConfig::default()
            },
            timeouts: Timeouts {
                idle: (!idle.is_zero()).then_some(idle),
                close,
            },
        })
    }

    /// The validated codec, ready to share between connections.
    pub fn shared(&self) -> Result<riptide::SharedCodec, FrameError> {
        Ok(std::sync::Arc::new(self.to_spec()?))
    }

    /// The validated spec, or the reason it cannot work.
    pub fn to_spec(&self) -> Result<CodecSpec, FrameError> {
        let missing = |name: &str| FrameError::InvalidConfig(format!("{} needs {name}", self.kind));
        let size = |v: Option<f64>, name: &str| -> Result<usize, FrameError> {
            let v = v.ok_or_else(|| missing(name))?;
            if v.fract() != 0.0 || !(0.0..=9.0e15).contains(&v) {
                return Err(FrameError::InvalidConfig(format!(
                    "{name} must be a non-negative integer"
                )));
            }
            Ok(v as usize)
        };
        let spec = match self.kind.as_str() {
            "line" => CodecSpec::Line(LineConfig {
                max_length: size(self.max_length, "maxLength")?,
                strip_delimiter: self.strip_delimiter.unwrap_or(true),
                fail_fast: self.fail_fast.unwrap_or(false),
                crlf: self.crlf.unwrap_or(false),
            }),
            "delimiter" => CodecSpec::Delimiter(DelimiterConfig {
                delimiters: self
                    .delimiters
                    .as_ref()
                    .ok_or_else(|| missing("delimiters"))?
                    .iter()
                    .map(|d| d.to_vec())
                    .collect(),
                max_frame_length: size(self.max_frame_length, "maxFrameLength")?,
                strip_delimiter: self.strip_delimiter.unwrap_or(true),
                fail_fast: self.fail_fast.unwrap_or(true),
            }),
            "fixedLength" => CodecSpec::FixedLength(FixedLengthConfig {
                frame_length: size(self.frame_length, "frameLength")?,
            }),
            "lengthField" => CodecSpec::LengthField(LengthFieldConfig {
                byte_order: match self.byte_order.as_deref() {
                    Some("little") => ByteOrder::Little,
                    _ => ByteOrder::Big,
                },
                max_frame_length: size(self.max_frame_length, "maxFrameLength")? as u64,
                length_field_offset: size(self.length_field_offset, "lengthFieldOffset")?,
                length_field_length: size(self.length_field_length, "lengthFieldLength")?,
                length_adjustment: self.length_adjustment.unwrap_or(0.0) as i64,
                initial_bytes_to_strip: size(self.initial_bytes_to_strip, "initialBytesToStrip")?,
                fail_fast: self.fail_fast.unwrap_or(true),
                length_includes_length_field_length: self
                    .length_includes_length_field_length
                    .unwrap_or(false),
                prepender_adjustment: self.prepender_adjustment.unwrap_or(0.0) as i64,
            }),
            "http1" => CodecSpec::Http1(Http1Config {
                max_header_size: size(self.max_header_size, "maxHeaderSize")?,
                max_headers: size(self.max_headers, "maxHeaders")?,
                max_body_size: size(self.max_body_size, "maxBodySize")?,
            }),
            "resp" => CodecSpec::Resp(RespConfig {
                max_bulk_length: size(self.max_bulk_length, "maxBulkLength")?,
                max_elements: size(self.max_elements, "maxElements")?,
                max_inline_length: size(self.max_inline_length, "maxInlineLength")?,
                max_request_size: size(self.max_request_size, "maxRequestSize")?,
            }),
            "websocket" => {
                return Err(FrameError::InvalidConfig(
                    "the websocket codec is for listeners (serve)".into(),
                ))
            }
            other => {
                return Err(FrameError::InvalidConfig(format!(
                    "unknown codec kind {other:?}"
                )))
            }
        };
        spec.validate()?;
        Ok(spec)
    }
}
