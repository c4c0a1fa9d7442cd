//! TLS as a stream layer, on rustls' sans-IO connections: ciphertext from the peer goes in
//! through `read_tls`/`process_new_packets`, plaintext comes out of the connection's reader;
//! plaintext from the application goes into its writer and `write_tls` drains the records.
//! The connection opens (the layer reports [`LayerStatus::Ready`]) once the handshake is
//! done; a failed or slow handshake closes it with [`Error::Tls`], a TLS error after it (a
//! corrupt record, a fatal alert from the peer) with [`Error::TlsAlert`].
//!
//! With kernel TLS asked for (the configuration allows secret extraction), a finished
//! handshake offers the connection to the kernel ([`LayerReport::kernel_tls`]) when nothing
//! of rustls' is pending either way: no record left to send, no partial record read. The
//! table then probes the socket and, if it takes the kernel's `tls` protocol, takes the
//! layer out with [`StreamLayer::into_kernel`]; if not, the layer carries on in user space.

use crate::layer::{LayerStatus, StreamLayer, StreamOut};
use crate::tls_record_edge::RecordEdge;
use crate::Error;
#[cfg(doc)]
use crate::LayerReport;
use rustls::pki_types::ServerName;
use std::io::{self, BufRead, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a finished handshake negotiated, kept as a connection extension
/// ([`crate::Conns::tls_info`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsInfo {
    /// The ALPN protocol both sides agreed on, if any.
    pub alpn_protocol: Option<Vec<u8>>,
    /// `TLSv1.2` or `TLSv1.3`.
    pub version: &'static str,
    /// Whether the handshake resumed an earlier session instead of a full one.
    pub resumed: bool,
    /// The certificates the peer presented (DER, leaf first): always a server's, a client's
    /// only when the server asked for one. Empty when none was (or, resuming, when the
    /// session did not keep them).
    pub peer_certificates: Vec<Vec<u8>>,
    /// Whether the kernel carries the connection's records (kernel TLS, `tls: { ktls: true }`
    /// on a kernel with the `tls` module) instead of rustls in user space.
    pub kernel: bool,
}

/// A place among a listener's handshakes in progress (`max_handshakes`): taken when a
/// connection is accepted, given back when its handshake ends or the connection goes.
#[derive(Debug)]
struct HandshakeSlot(Arc<AtomicUsize>);

impl HandshakeSlot {
    /// A place among `active`, or `None` when `max` are taken.
    fn take(active: &Arc<AtomicUsize>, max: usize) -> Option<HandshakeSlot> {
        let mut n = active.load(Ordering::Acquire);
        loop {
            if n >= max {
                return None;
            }
            match active.compare_exchange_weak(n, n + 1, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Some(HandshakeSlot(active.clone())),
                Err(now) => n = now,
            }
        }
    }
}

impl Drop for HandshakeSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// One connection's TLS state.
pub struct TlsLayer {
    conn: rustls::Connection,
    timeout: Duration,
    /// When the handshake must be done (set at start, cleared once it is).
    deadline: Option<Instant>,
    /// Plaintext the application wrote before the handshake finished.
    early: Vec<u8>,
    /// Kernel TLS was asked for: where the records read so far end.
    kernel: Option<RecordEdge>,
    /// This connection's place among its listener's handshakes in progress, held until the
    /// handshake ends.
    slot: Option<HandshakeSlot>,
    /// The bound that refused this connection a place: it fails at once, reading nothing.
    refused: Option<usize>,
}

impl TlsLayer {
    /// The server side of one accepted connection.
    /// With `enable_secret_extraction` set (the `ktls` option), the layer offers the
    /// connection to the kernel once the handshake is done.
    pub fn server(config: Arc<rustls::ServerConfig>, timeout: Duration) -> TlsLayer {
        let kernel = config.enable_secret_extraction;
        // Only fails on a config with no protocol versions, which the options never build.
        let conn = rustls::ServerConnection::new(config).map(rustls::Connection::Server);
        TlsLayer::with(
            conn.expect("a server config with protocol versions"),
            timeout,
            kernel,
        )
    }

    /// The client side of one dial to `name`; kernel TLS as for [`TlsLayer::server`].
    pub fn client(
        config: Arc<rustls::ClientConfig>,
        name: ServerName<'static>,
        timeout: Duration,
    ) -> TlsLayer {
        let kernel = config.enable_secret_extraction;
        let conn = rustls::ClientConnection::new(config, name).map(rustls::Connection::Client);
        TlsLayer::with(
            conn.expect("a client config with protocol versions"),
            timeout,
            kernel,
        )
    }

    fn with(mut conn: rustls::Connection, timeout: Duration, kernel: bool) -> TlsLayer {
        // Records are drained into the layer's output on every call, so rustls never needs to
        // hold more than one write's worth; the connection's water marks bound the rest.
        conn.set_buffer_limit(None);
        let kernel = kernel.then(RecordEdge::default);
        TlsLayer {
            conn,
            timeout,
            deadline: None,
            early: Vec::new(),
            kernel,
            slot: None,
            refused: None,
        }
    }

    /// Counts this (server) connection among a listener's handshakes in progress, `active`;
    /// when `max` are already running it is refused instead: it fails with
    /// `ERR_TLS_HANDSHAKE` as soon as it starts, before reading a byte of the peer's.
    pub(crate) fn bounded(mut self, active: &Arc<AtomicUsize>, max: usize) -> TlsLayer {
        self.slot = HandshakeSlot::take(active, max);
        if self.slot.is_none() {
            self.refused = Some(max);
        }
        self
    }

    /// The error of a connection refused by `max_handshakes`.
    fn over_bound(max: usize) -> Error {
        Error::Tls(format!(
            "refused: {max} handshakes already in progress on this listener (maxHandshakes)"
        ))
    }

    /// Moves every pending TLS record to `down`.
    fn flush(&mut self, down: &mut Vec<u8>) -> Result<(), Error> {
        while self.conn.wants_write() {
            self.conn.write_tls(down)?;
        }
        Ok(())
    }

    /// Moves every decrypted byte to `up`, straight from rustls's buffers (no scratch buffer to
    /// zero and copy through: that was a 16 KiB memset per read).
    fn drain_plaintext(&mut self, up: &mut Vec<u8>) -> Result<(), Error> {
        let mut reader = self.conn.reader();
        loop {
            match reader.fill_buf() {
                // Empty: the peer sent close_notify; its FIN follows and closes the connection.
                Ok([]) => return Ok(()),
                Ok(chunk) => {
                    let n = chunk.len();
                    up.extend_from_slice(chunk);
                    reader.consume(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The error a rustls failure closes the connection with: `ERR_TLS_HANDSHAKE` while the
    /// handshake runs, `ERR_TLS` after it; either way the text is rustls' reason.
    fn failure(&self, why: impl ToString) -> Error {
        if self.conn.is_handshaking() {
            Error::Tls(why.to_string())
        } else {
            Error::TlsAlert(why.to_string())
        }
    }

    /// `Ready` once the handshake is done, reporting what it negotiated the first time and
    /// sending what the application wrote meanwhile.
    fn status(&mut self, out: &mut StreamOut<'_>) -> Result<LayerStatus, Error> {
        if self.conn.is_handshaking() {
            return Ok(LayerStatus::Pending);
        }
        if self.deadline.take().is_some() {
            self.slot = None;
            out.report.extensions.push(Box::new(TlsInfo {
                alpn_protocol: self.conn.alpn_protocol().map(<[u8]>::to_vec),
                version: match self.conn.protocol_version() {
                    Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2",
                    _ => "TLSv1.3",
                },
                resumed: self.conn.handshake_kind() == Some(rustls::HandshakeKind::Resumed),
                peer_certificates: self
                    .conn
                    .peer_certificates()
                    .unwrap_or_default()
                    .iter()
                    .map(|c| c.to_vec())
                    .collect(),
                kernel: false,
            }));
            let early = std::mem::take(&mut self.early);
            self.conn.writer().write_all(&early)?;
            self.flush(out.down)?;
            // Everything rustls had to say is in `down` (a TLS 1.3 server's session tickets
            // included), so the kernel would take over at a clean record boundary.
            out.report.kernel_tls = cfg!(target_os = "linux")
                && !self.conn.wants_write()
                && self.kernel.as_ref().is_some_and(RecordEdge::at_edge);
        }
        Ok(LayerStatus::Ready)
    }
}

impl StreamLayer for TlsLayer {
    fn start(&mut self, now: Instant, down: &mut Vec<u8>) -> Result<LayerStatus, Error> {
        // A refused connection's deadline is now: its timeout closes it at once, through the
        // same path as any failed handshake.
        self.deadline = Some(match self.refused {
            Some(_) => now,
            None => now + self.timeout,
        });
        // A client's hello; nothing from a server.
        self.flush(down)?;
        Ok(LayerStatus::Pending)
    }

    fn read(
        &mut self,
        _: Instant,
        data: &[u8],
        out: &mut StreamOut<'_>,
    ) -> Result<LayerStatus, Error> {
        if let Some(max) = self.refused {
            return Err(TlsLayer::over_bound(max));
        }
        if let Some(edge) = &mut self.kernel {
            edge.feed(data);
        }
        let mut rest = data;
        while !rest.is_empty() {
            // rustls refuses input it cannot hold (a handshake message over 64 KiB) here.
            match self.conn.read_tls(&mut rest) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => return Err(self.failure(e)),
            }
            if let Err(e) = self.conn.process_new_packets() {
                // rustls queued an alert saying why: the peer gets it before the close.
                let _ = self.flush(out.down);
                return Err(self.failure(e));
            }
            self.drain_plaintext(out.up)?;
        }
        self.flush(out.down)?;
        self.status(out)
    }

    fn write(&mut self, _: Instant, data: &[u8], down: &mut Vec<u8>) -> Result<(), Error> {
        if self.conn.is_handshaking() {
            self.early.extend_from_slice(data);
            return Ok(());
        }
        self.conn.writer().write_all(data)?;
        self.flush(down)
    }

    fn close(&mut self, _: Instant, down: &mut Vec<u8>) {
        self.conn.send_close_notify();
        // The connection is closing: a failure to say goodbye changes nothing.
        let _ = self.flush(down);
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    fn handle_timeout(&mut self, _: Instant, _: &mut StreamOut<'_>) -> Result<LayerStatus, Error> {
        if let Some(max) = self.refused {
            return Err(TlsLayer::over_bound(max));
        }
        Err(Error::Tls(format!(
            "handshake did not complete within {} ms",
            self.timeout.as_millis()
        )))
    }

    fn buffered(&self) -> usize {
        self.early.len()
    }

    #[cfg(target_os = "linux")]
    fn into_kernel(self: Box<Self>) -> Result<crate::KernelTls, Error> {
        let version = self.conn.protocol_version();
        let secrets = self
            .conn
            .dangerous_extract_secrets()
            .map_err(|e| Error::Tls(format!("kernel TLS: {e}")))?;
        version
            .and_then(|v| crate::KernelTls::new(v, &secrets))
            .ok_or_else(|| Error::Tls("kernel TLS: the kernel takes no such cipher".into()))
    }
}
