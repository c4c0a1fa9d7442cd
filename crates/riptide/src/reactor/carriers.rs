//! Application carriers on the reactor ([`crate::DatagramCarrier`]): a `kcp://` listener or
//! dial attached to one instead of a UDP socket, the datagrams the application received
//! (taken from the carrier when it notifies the reactor's inbox), and the datagrams the
//! sessions sent (handed to [`EventHandler::on_carrier_send`] when the reactor reaps).

use super::Reactor;
use crate::carried::{carried_address, Carried, PeerMap, Role};
use crate::carrier::{check_peer, DatagramCarrier, Inbound, Notify};
use crate::config::{DialOptions, ListenOptions};
use crate::conns::CarriedRoute;
use crate::handler::EventHandler;
use crate::kcp_options::KcpOptions;
use crate::remote::Command;
use crate::slab::ConnId;
use crate::stream::{Listener, PeerAddr, Stream};
use crate::Error;
use std::sync::Arc;

/// The peer a carrier URL names: `kcp://name` (any case of the scheme), `name` being 1 to
/// [`crate::MAX_PEER_LEN`] visible ASCII characters.
fn carried_name(url: &str) -> Result<&str, Error> {
    let name = url
        .get(..6)
        .filter(|scheme| scheme.eq_ignore_ascii_case("kcp://"))
        .and_then(|_| url.get(6..))
        .filter(|name| check_peer(name).is_ok());
    name.ok_or_else(|| {
        Error::InvalidAddress(format!(
            "{url:?}: a carrier's URL is kcp://name, the name 1 to {} visible ASCII characters",
            crate::carrier::MAX_PEER_LEN
        ))
    })
}

impl Reactor {
    /// Attaches `carrier` as a datagram socket of this reactor for `role`; returns the
    /// socket's index. The carrier notifies the reactor's inbox when datagrams wait.
    fn attach_carrier(&mut self, carrier: DatagramCarrier, role: Role) -> Result<usize, Error> {
        let socket = self.conns.vacant_socket();
        let remote = self.remote.clone();
        // A stopped reactor takes no command: the carrier then drops what it receives.
        let notify: Notify = Arc::new(move || {
            let _ = remote.send(Command::Carried(socket));
        });
        let carried = Carried::attach(carrier, role, notify)?;
        Ok(self.conns.add_carried(carried))
    }

    /// [`Reactor::listen_with`] for a `kcp://` listener whose options give a carrier.
    pub(super) fn listen_carried(
        &mut self,
        url: &str,
        carrier: DatagramCarrier,
        options: ListenOptions,
    ) -> Result<PeerAddr, Error> {
        carried_name(url)?;
        let kcp = options.kcp.as_ref().ok_or_else(|| {
            Error::InvalidOption("a carrier serves a kcp:// listener (KcpOptions::carrier)".into())
        })?;
        kcp.validate()?;
        let gate = kcp.make_gate()?;
        let peers = PeerMap::new(carrier.options().max_peers);
        let index = self.listeners.len();
        if u16::try_from(index).is_err() {
            return Err(Error::InvalidOption("too many listeners".into()));
        }
        let socket = self.attach_carrier(carrier, Role::Listener { index, peers })?;
        if let Some(gate) = gate {
            self.conns.set_gate(socket, gate);
        }
        // No poll registration: the carrier's datagrams come through the inbox.
        let local = carried_address(0);
        self.listeners.push(Listener::Datagram(socket, local));
        self.codecs.push(Arc::new(options));
        Ok(PeerAddr::Inet(local))
    }

    /// [`Reactor::dial`] for a `kcp://` dial whose options give a carrier: the URL names the
    /// peer, and the session opens at once (as over UDP, nothing is connected).
    pub(super) fn dial_carried(
        &mut self,
        url: &str,
        carrier: DatagramCarrier,
        options: &DialOptions,
    ) -> Result<ConnId, Error> {
        let peer: Arc<str> = carried_name(url)?.into();
        let kcp = dial_kcp(options.kcp.as_ref())?;
        let role = Role::Dial { peer, conn: None };
        let socket = self.attach_carrier(carrier, role)?;
        let addr = carried_address(1);
        let stream = Stream::Datagram { socket, peer: addr };
        match self
            .conns
            .kcp_dial(stream, addr, &kcp, options.codec.as_ref())
        {
            Ok(id) => {
                self.conns.set_carried_dial(socket, id);
                Ok(id)
            }
            Err(e) => {
                self.conns.release_carried(socket, true);
                Err(e)
            }
        }
    }

    /// Runs what carrier `socket` received through its listener's sessions or its dial.
    pub(super) fn carried_input<H: EventHandler>(&mut self, socket: usize, handler: &mut H) {
        let mut batch = std::mem::take(&mut self.carried_in);
        self.conns.take_carried_input(socket, &mut batch);
        while let Some(Inbound { peer, datagram }) = batch.pop_front() {
            let route = self.conns.carried_route(socket, &peer);
            if !matches!(route, CarriedRoute::Drop) {
                // Counted as a UDP socket's datagram is when received.
                self.conns.count_socket(socket, datagram.len(), true);
            }
            match route {
                CarriedRoute::Listener(index, addr) => {
                    let Some(options) = self.codecs.get(index).cloned() else {
                        continue;
                    };
                    if let Some(kcp) = &options.kcp {
                        let codec = options.codec.as_ref();
                        self.kcp_datagram(socket, addr, &datagram, kcp, codec, handler);
                    }
                }
                CarriedRoute::Dial(id) => {
                    self.conns.kcp_input_from(id, None, &datagram);
                    self.kcp_deliver(id, handler);
                }
                CarriedRoute::Drop => {}
            }
        }
        self.carried_in = batch;
    }

    /// Hands what the carried sessions sent to the handler, carrier by carrier.
    pub(super) fn send_carried<H: EventHandler>(&mut self, handler: &mut H) {
        let mut out = std::mem::take(&mut self.carried_out);
        while let Some(carrier) = self.conns.take_carried_output(&mut out) {
            for (datagram, peer) in out.iter() {
                handler.on_carrier_send(&mut self.conns, &carrier, datagram, peer);
            }
            carrier.count_sent(out.len() as u64);
            out.clear();
        }
        self.carried_out = out;
    }
}

/// A dial's KCP options, checked: a dial takes secure mode's client side.
pub(super) fn dial_kcp(kcp: Option<&KcpOptions>) -> Result<KcpOptions, Error> {
    let kcp = kcp.cloned().unwrap_or_default();
    kcp.validate()?;
    if let Some(crate::kcp_options::KcpSecure::Server { .. }) = kcp.secure {
        return Err(Error::InvalidOption(
            "kcp: a dial takes secure: Client (a listener takes Server)".into(),
        ));
    }
    Ok(kcp)
}
