//! The PROXY protocol (v1/v2) as a stream layer: it holds the connection unopened until the
//! header a load balancer sends first has arrived, reports the original client as the peer,
//! leaves the header as an extension ([`riptide_codec::ProxyHeader`]) and removes itself.

use crate::layer::{LayerStatus, StreamLayer, StreamOut};
use crate::stream::PeerAddr;
use crate::Error;
use riptide_codec::{parse_proxy, ProxyMode, ProxyParse};
use std::io;
use std::time::{Duration, Instant};

/// Waits for one PROXY header.
pub(crate) struct ProxyLayer {
    mode: ProxyMode,
    timeout: Duration,
    /// When the header must have arrived (set at start).
    deadline: Option<Instant>,
    /// The header so far (bounded by the parser: a v1 line or a v2 length, at most 64 KiB).
    held: Vec<u8>,
}

impl ProxyLayer {
    /// A layer expecting a header of `mode` within `timeout`.
    pub(crate) fn new(mode: ProxyMode, timeout: Duration) -> ProxyLayer {
        ProxyLayer {
            mode,
            timeout,
            deadline: None,
            held: Vec::new(),
        }
    }
}

impl StreamLayer for ProxyLayer {
    fn start(&mut self, now: Instant, _: &mut Vec<u8>) -> Result<LayerStatus, Error> {
        self.deadline = Some(now + self.timeout);
        Ok(LayerStatus::Pending)
    }

    fn read(
        &mut self,
        _: Instant,
        data: &[u8],
        out: &mut StreamOut<'_>,
    ) -> Result<LayerStatus, Error> {
        self.held.extend_from_slice(data);
        match parse_proxy(&self.held, self.mode)? {
            ProxyParse::NeedMore => Ok(LayerStatus::Pending),
            ProxyParse::Done { consumed, header } => {
                out.up
                    .extend_from_slice(self.held.get(consumed..).unwrap_or_default());
                self.held = Vec::new();
                self.deadline = None;
                out.report.peer = header.source.map(PeerAddr::Inet);
                out.report.extensions.push(Box::new(header));
                Ok(LayerStatus::Done)
            }
        }
    }

    fn write(&mut self, _: Instant, data: &[u8], down: &mut Vec<u8>) -> Result<(), Error> {
        down.extend_from_slice(data);
        Ok(())
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    fn handle_timeout(&mut self, _: Instant, _: &mut StreamOut<'_>) -> Result<LayerStatus, Error> {
        Err(io::Error::new(io::ErrorKind::TimedOut, "PROXY header timed out").into())
    }
}
