//! Codec options from JS (`codecs.lengthField({...})` and friends) to a validated
//! [`CodecSpec`]. The TS layer fills the defaults; this checks what only Rust can.

use napi::bindgen_prelude::Uint8Array;
use napi_derive::napi;
use riptide::codec::{
    ByteOrder, CodecSpec, DelimiterConfig, FixedLengthConfig, FrameError, Http1Config,
    LengthFieldConfig, LineConfig, LtvConfig, RespConfig,
};

/// A codec as JS describes it: `kind` plus that kind's options (all filled in by TS).
#[napi(object)]
#[derive(Default)]
pub struct NativeCodec {
    /// `line`, `delimiter`, `fixedLength`, `lengthField`, `http1`, `resp`, `ltv` or `websocket`.
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
    /// RESP: deliver the whole commands of one read as one frame.
    pub batch: Option<bool>,
    /// LTV: the width of the size field (2 or 4).
    pub size_bytes: Option<f64>,
    /// LTV: the width of the message id field (2 or 4).
    pub id_bytes: Option<f64>,
    /// LTV: the size counts the whole frame, not only the id and the body.
    pub size_includes_header: Option<bool>,
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
    /// WebSocket dials: the upgrade request to make (from the `ws://` or `wss://` URL).
    pub request: Option<NativeWsDial>,
    /// HTTP/1.1 (`http1`) listeners: the routes that upgrade to WebSocket, and its options.
    pub websocket: Option<NativeWsRoutes>,
}

/// The `websocket` option of `codecs.http1()`: the routes whose upgrade requests go to the
/// WebSocket, and the options of `codecs.websocket()`.
#[napi(object)]
pub struct NativeWsRoutes {
    /// Exact paths, or prefixes ending in `*`.
    pub routes: Vec<String>,
    /// As the `websocket` codec's.
    pub max_payload: Option<f64>,
    /// As the `websocket` codec's.
    pub compression: Option<bool>,
    /// As the `websocket` codec's.
    pub idle_timeout: Option<f64>,
    /// As the `websocket` codec's.
    pub close_timeout: Option<f64>,
    /// As the `websocket` codec's.
    pub subprotocols: Option<Vec<String>>,
}

impl NativeWsRoutes {
    /// The WebSocket's validated options, as `codecs.websocket()`'s are validated.
    fn ws_options(&self) -> Result<riptide::WsOptions, riptide::Error> {
        NativeCodec {
            kind: "websocket".into(),
            max_payload: self.max_payload,
            compression: self.compression,
            idle_timeout: self.idle_timeout,
            close_timeout: self.close_timeout,
            subprotocols: self.subprotocols.clone(),
            ..NativeCodec::default()
        }
        .ws_options()
    }
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
    /// Parameters of a `webrtc://` listener.
    pub webrtc: Option<crate::webrtc::NativeWebRtc>,
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
        // A WebSocket server's layer, or an HTTP one that upgrades chosen routes, with the
        // codec of its records.
        let upgrading = match &self.codec {
            Some(c) if c.kind == "websocket" => {
                let ws = c.ws_options()?;
                Some((ws.codec_factory(), ws.server_factory()))
            }
            Some(
                c @ NativeCodec {
                    websocket: Some(routes),
                    ..
                },
            ) if c.kind == "http1" => {
                let options = riptide::Http1WsOptions {
                    http: c.http1()?,
                    routes: routes.routes.clone(),
                    websocket: routes.ws_options()?,
                };
                Some((options.codec_factory(), options.server_factory()?))
            }
            _ => None,
        };
        let codec = match &upgrading {
            Some((codec, _)) => Some(codec.clone()),
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
                .chain(upgrading.map(|(_, layer)| layer))
                .collect(),
            proxy_protocol: proxy,
            proxy_timeout: timeout,
            kcp: self.kcp.as_ref().map(|k| k.options()).transpose()?,
            webrtc: self.webrtc.as_ref().map(|w| w.options()).transpose()?,
        };
        Ok((options, tls))
    }
}

/// What a `ws://` or `wss://` dial asks for besides the codec's options: the `Host` header
/// and the request target from the URL, and extra headers.
#[napi(object)]
pub struct NativeWsDial {
    /// The `Host` header: the URL's host, with the port unless it is the scheme's default.
    pub host: String,
    /// The request target: the URL's path and query.
    pub path: String,
    /// Extra request headers, `[name, value]` pairs.
    pub headers: Vec<Vec<String>>,
}

impl NativeCodec {
    /// A WebSocket client's validated options (`kind` is `websocket`): the codec's limits and
    /// timeouts as for a server, its `subprotocols` and `compression` as the offer, its
    /// `request`, and `handshake_timeout` for the server's answer.
    pub fn ws_client_options(
        self,
        handshake_timeout: Option<std::time::Duration>,
    ) -> Result<riptide::WsClientOptions, riptide::Error> {
        use riptide::ws::{ClientConfig, ClientHandshake};
        let server = self.ws_options()?;
        let dial = self.request.ok_or_else(|| {
            riptide::Error::InvalidOption("a WebSocket dial needs a ws:// or wss:// URL".into())
        })?;
        let headers = dial
            .headers
            .into_iter()
            .map(|pair| match <[String; 2]>::try_from(pair) {
                Ok([name, value]) => Ok((name, value)),
                Err(_) => Err(riptide::Error::InvalidOption(
                    "a header is a [name, value] pair".into(),
                )),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let client = ClientConfig {
            host: dial.host,
            path: dial.path,
            headers,
            subprotocols: server.server.subprotocols,
            deflate: server.server.deflate,
            max_head_size: server.server.max_head_size,
        };
        // Checks the headers, path and host once here, so a dial's own handshakes cannot fail
        // on them (a fixed key: only the check matters).
        ClientHandshake::with_key(client.clone(), [0; 16])
            .map_err(|e| riptide::Error::InvalidOption(e.to_string()))?;
        Ok(riptide::WsClientOptions {
            client,
            session: server.session,
            timeouts: server.timeouts,
            handshake_timeout,
        })
    }

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

    /// The HTTP/1.1 limits of an `http1` codec.
    fn http1(&self) -> Result<Http1Config, FrameError> {
        Ok(Http1Config {
            max_header_size: self.size(self.max_header_size, "maxHeaderSize")?,
            max_headers: self.size(self.max_headers, "maxHeaders")?,
            max_body_size: self.size(self.max_body_size, "maxBodySize")?,
        })
    }

    /// A size option: present, a non-negative integer.
    fn size(&self, v: Option<f64>, name: &str) -> Result<usize, FrameError> {
        let v =
            v.ok_or_else(|| FrameError::InvalidConfig(format!("{} needs {name}", self.kind)))?;
        if v.fract() != 0.0 || !(0.0..=9.0e15).contains(&v) {
            return Err(FrameError::InvalidConfig(format!(
                "{name} must be a non-negative integer"
            )));
        }
        Ok(v as usize)
    }

    /// The validated codec, ready to share between connections.
    pub fn shared(&self) -> Result<riptide::SharedCodec, FrameError> {
        Ok(std::sync::Arc::new(self.to_spec()?))
    }

    /// `byteOrder`: `big` (the default) or `little`.
    fn byte_order(&self) -> Result<ByteOrder, FrameError> {
        match self.byte_order.as_deref() {
            None | Some("big") => Ok(ByteOrder::Big),
            Some("little") => Ok(ByteOrder::Little),
            Some(other) => Err(FrameError::InvalidConfig(format!(
                "byteOrder must be 'big' or 'little', got {other:?}"
            ))),
        }
    }

    /// The validated spec, or the reason it cannot work.
    pub fn to_spec(&self) -> Result<CodecSpec, FrameError> {
        let missing = |name: &str| FrameError::InvalidConfig(format!("{} needs {name}", self.kind));
        let size = |v: Option<f64>, name: &str| self.size(v, name);
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
                byte_order: self.byte_order()?,
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
            "http1" if self.websocket.is_some() => {
                return Err(FrameError::InvalidConfig(
                    "http1 with websocket routes is a server's codec, for serve".into(),
                ))
            }
            "http1" => CodecSpec::Http1(self.http1()?),
            "resp" => CodecSpec::Resp(RespConfig {
                max_bulk_length: size(self.max_bulk_length, "maxBulkLength")?,
                max_elements: size(self.max_elements, "maxElements")?,
                max_inline_length: size(self.max_inline_length, "maxInlineLength")?,
                max_request_size: size(self.max_request_size, "maxRequestSize")?,
                batch: self.batch.unwrap_or(false),
            }),
            "ltv" => CodecSpec::Ltv(LtvConfig {
                size_bytes: size(self.size_bytes, "sizeBytes")?,
                id_bytes: size(self.id_bytes, "idBytes")?,
                byte_order: self.byte_order()?,
                size_includes_header: self.size_includes_header.unwrap_or(false),
                max_frame_length: size(self.max_frame_length, "maxFrameLength")? as u64,
            }),
            "websocket" => {
                return Err(FrameError::InvalidConfig(
                    "the websocket codec is for serve and ws:// or wss:// dials".into(),
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
