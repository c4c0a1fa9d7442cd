//! Kernel TLS hand-over: when a TLS layer finishes its handshake and offers its records to
//! the kernel, the table decides on the socket's side (a TCP socket, nothing of rustls' queued
//! in user space, the kernel's `tls` protocol accepted), takes the layer out and installs its
//! keys. A refusal anywhere before the layer gives up its state keeps the user-space records.

#[cfg(target_os = "linux")]
use super::connection::Transport;
use super::Conns;
use crate::layer::LayerReport;
use crate::slab::ConnId;
#[cfg(target_os = "linux")]
use crate::stream::Stream;
use crate::Error;
#[cfg(target_os = "linux")]
use crate::TlsInfo;

impl Conns {
    /// Moves the connection's TLS records to the kernel if its socket takes them, and says so
    /// in the [`TlsInfo`] of `report`. An error (keys the kernel refused after rustls gave
    /// them up, which no fallback can undo) closes the connection.
    #[cfg(target_os = "linux")]
    pub(super) fn offload_tls(
        &mut self,
        id: ConnId,
        report: &mut LayerReport,
    ) -> Result<(), Error> {
        let Some(conn) = self.slab.get_mut(id) else {
            return Ok(());
        };
        // Records rustls made still wait in the queue: the kernel would encrypt them again.
        if !conn.outbound.is_empty() {
            return Ok(());
        }
        let (Transport::Plain(Stream::Tcp(tcp)), Some(stack)) =
            (&conn.transport, conn.layers.as_mut())
        else {
            return Ok(());
        };
        if crate::ktls::attach(tcp).is_err() {
            // No `tls` module (ENOENT) or a socket it does not take: user-space records.
            return Ok(());
        }
        let Some(layer) = stack.take_bottom() else {
            return Ok(());
        };
        let keys = layer.into_kernel()?;
        crate::ktls::install(tcp, &keys)
            .map_err(|e| Error::Tls(format!("the kernel refused the TLS keys: {e}")))?;
        let Transport::Plain(stream) = &mut conn.transport else {
            return Ok(());
        };
        // A placeholder for the moment the TCP stream moves into its kernel TLS wrapper.
        let placeholder = Stream::Datagram {
            socket: usize::MAX,
            peer: ([0, 0, 0, 0], 0).into(),
        };
        if let Stream::Tcp(tcp) = std::mem::replace(stream, placeholder) {
            *stream = Stream::KernelTls(crate::ktls::KernelTlsStream::new(tcp));
        }
        if let Some(info) = report
            .extensions
            .iter_mut()
            .find_map(|e| e.downcast_mut::<TlsInfo>())
        {
            info.kernel = true;
        }
        Ok(())
    }

    /// Without kernel TLS on this system, every connection keeps its user-space records.
    #[cfg(not(target_os = "linux"))]
    pub(super) fn offload_tls(&mut self, _: ConnId, _: &mut LayerReport) -> Result<(), Error> {
        Ok(())
    }

    /// A kernel TLS connection closing from this side sends `close_notify` once everything
    /// queued before it reached the kernel (user-space TLS does the same through its layer).
    pub(super) fn kernel_tls_goodbye(&mut self, id: ConnId) {
        #[cfg(target_os = "linux")]
        if let Some(conn) = self.slab.get_mut(id) {
            if let (true, Transport::Plain(Stream::KernelTls(s))) =
                (conn.outbound.is_empty(), &mut conn.transport)
            {
                s.close_notify();
            }
        }
        #[cfg(not(target_os = "linux"))]
        let _ = id;
    }
}
