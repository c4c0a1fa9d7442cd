//! A whole WebSocket connection as one sans-IO state machine, in the shape of riptide's
//! layers: bytes and `now` in; bytes, events and the next deadline out. It runs the opening
//! handshake (a server waits for the application's accept or refusal), then a [`Session`], and
//! keeps the two clocks a connection needs: the idle ping and the close timeout.

use std::time::{Duration, Instant};

use crate::handshake::{self, Accepted, ClientHandshake, ServerConfig, UpgradeRequest};
use crate::{DeflateParams, Error, Event, Role, Session, SessionConfig, State};

/// The connection's clocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// With no traffic from the peer for this long a ping goes out; with none for as long
    /// again the connection fails with [`Error::IdleTimeout`] (uWS's `idleTimeout`).
    pub idle: Option<Duration>,
    /// How long the peer may take to answer this side's close frame.
    pub close: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            idle: None,
            close: Duration::from_secs(5),
        }
    }
}

/// What the peer's bytes (or the handshake) brought.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConnEvent {
    /// A server read a valid upgrade request: answer with [`Connection::accept`] or
    /// [`Connection::refuse`]; input waits until then.
    Upgrade(UpgradeRequest),
    /// A client's handshake succeeded.
    Open(Accepted),
    /// A message or control event of the open connection.
    Ws(Event),
}

/// What one call to [`Connection::receive`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnReceived {
    /// Input bytes used; call again with the rest.
    pub consumed: usize,
    /// The event they completed, if any.
    pub event: Option<ConnEvent>,
}

#[derive(Debug)]
enum Phase {
    /// A server reading the request head.
    ServerHead(Box<ServerConfig>),
    /// A server waiting for the application's answer.
    ServerDecision(Box<UpgradeRequest>),
    /// A client waiting for the 101.
    ClientHead(Box<ClientHandshake>),
    /// The handshake is done.
    Open(Box<Session>),
    /// The handshake failed; the refusal (on a server) is in the output.
    Failed,
}

/// One WebSocket connection, server or client, from its first byte to its last.
#[derive(Debug)]
pub struct Connection {
    phase: Phase,
    session_config: SessionConfig,
    timeouts: Timeouts,
    head: Vec<u8>,
    max_head: usize,
    output: Vec<u8>,
    /// When the peer last sent anything, and whether the idle ping is out.
    last_heard: Instant,
    pinged: bool,
    /// When this side's close frame went out.
    close_sent: Option<Instant>,
}

impl Connection {
    /// A server's connection, reading an upgrade request first. `session_config.deflate` is
    /// set from the negotiation.
    pub fn server(
        config: ServerConfig,
        session_config: SessionConfig,
        timeouts: Timeouts,
        now: Instant,
    ) -> Self {
        let max_head = config.max_head_size;
        Self::new(
            Phase::ServerHead(Box::new(config)),
            session_config,
            timeouts,
            max_head,
            now,
        )
    }

    /// A client's connection: its upgrade request is queued at once.
    pub fn client(
        handshake: ClientHandshake,
        session_config: SessionConfig,
        timeouts: Timeouts,
        now: Instant,
    ) -> Self {
        let max_head = handshake.max_head_size();
        let mut conn = Self::new(
            Phase::ClientHead(Box::new(handshake.clone())),
            session_config,
            timeouts,
            max_head,
            now,
        );
        conn.output = handshake.request();
        conn
    }

    fn new(
        phase: Phase,
        session_config: SessionConfig,
        timeouts: Timeouts,
        max_head: usize,
        now: Instant,
    ) -> Self {
        Self {
            phase,
            session_config,
            timeouts,
            head: Vec::new(),
            max_head,
            output: Vec::new(),
            last_heard: now,
            pinged: false,
            close_sent: None,
        }
    }

    /// The session, once the handshake is done.
    pub fn session(&mut self) -> Option<&mut Session> {
        match &mut self.phase {
            Phase::Open(session) => Some(session),
            _ => None,
        }
    }

    /// Whether the transport should end once the output is flushed: the handshake failed, or
    /// the close handshake finished (or failed).
    pub fn is_finished(&self) -> bool {
        match &self.phase {
            Phase::Failed => true,
            Phase::Open(session) => session.state() == State::Closed,
            _ => false,
        }
    }

    /// Takes the bytes queued for the peer.
    pub fn take_output(&mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.output);
        if let Phase::Open(session) = &mut self.phase {
            // The handshake's answer goes first; usually only one of the two has bytes.
            if out.is_empty() {
                return session.take_output();
            }
            out.append(&mut session.take_output());
        }
        out
    }

    /// Reads the peer's bytes until one event completes or `input` runs out (or, on a server
    /// waiting for [`Connection::accept`], reads nothing). On a failure the answer (a refusal or
    /// a close frame) is queued and the error returned; the transport should end after a flush.
    pub fn receive(&mut self, now: Instant, input: &[u8]) -> Result<ConnReceived, Error> {
        if !input.is_empty() {
            self.last_heard = now;
            self.pinged = false;
        }
        let nothing = ConnReceived {
            consumed: 0,
            event: None,
        };
        match &mut self.phase {
            Phase::ServerDecision(_) => Ok(nothing),
            Phase::Failed => Ok(ConnReceived {
                consumed: input.len(),
                event: None,
            }),
            Phase::Open(session) => {
                let r = session.receive(input)?;
                if matches!(r.event, Some(Event::Close(_))) && self.close_sent.is_none() {
                    self.close_sent = Some(now);
                }
                Ok(ConnReceived {
                    consumed: r.consumed,
                    event: r.event.map(ConnEvent::Ws),
                })
            }
            Phase::ServerHead(_) | Phase::ClientHead(_) => self.read_head(input),
        }
    }

    /// Adds `input` to the head and parses it; bytes past the head are left unconsumed.
    fn read_head(&mut self, input: &[u8]) -> Result<ConnReceived, Error> {
        let before = self.head.len();
        let room = self.max_head.saturating_add(1).saturating_sub(before);
        let take = input.len().min(room);
        let fresh = input.get(..take).unwrap_or_default();
        self.head.extend_from_slice(fresh);
        // A head only ends at a line break: parsing once per line, not once per read, keeps a
        // head sent a byte at a time linear rather than quadratic.
        if !fresh.contains(&b'\n') && self.head.len() <= self.max_head {
            return Ok(ConnReceived {
                consumed: take,
                event: None,
            });
        }
        let parsed = match &self.phase {
            Phase::ServerHead(config) => handshake::parse_request(&self.head, config)
                .map(|r| r.map(|(request, len)| (ConnEvent::Upgrade(request), len))),
            Phase::ClientHead(handshake) => handshake
                .parse_response(&self.head)
                .map(|r| r.map(|(accepted, len)| (ConnEvent::Open(accepted), len))),
            _ => {
                return Ok(ConnReceived {
                    consumed: 0,
                    event: None,
                })
            }
        };
        match parsed {
            Ok(None) => Ok(ConnReceived {
                consumed: take,
                event: None,
            }),
            Ok(Some((event, len))) => {
                // Only the head's own bytes count as consumed; what follows is frames.
                let consumed = len.saturating_sub(before);
                self.head = Vec::new();
                match &event {
                    ConnEvent::Upgrade(request) => {
                        self.phase = Phase::ServerDecision(Box::new(request.clone()))
                    }
                    ConnEvent::Open(accepted) => self.open(Role::Client, accepted.deflate),
                    ConnEvent::Ws(_) => {}
                }
                Ok(ConnReceived {
                    consumed,
                    event: Some(event),
                })
            }
            Err(error) => {
                if matches!(self.phase, Phase::ServerHead(_)) {
                    // A refusal for a status always in range: it cannot fail.
                    self.output =
                        handshake::refuse_response(error.status(), &[]).unwrap_or_default();
                }
                self.phase = Phase::Failed;
                self.head = Vec::new();
                Err(error.into())
            }
        }
    }

    fn open(&mut self, role: Role, deflate: Option<DeflateParams>) {
        let config = SessionConfig {
            deflate,
            ..self.session_config
        };
        self.phase = Phase::Open(Box::new(Session::new(role, config)));
    }

    /// Accepts the pending upgrade with `protocol` (one the client offered, or none) and extra
    /// response headers; the deflate agreement is the one [`UpgradeRequest::deflate`] shows.
    pub fn accept(
        &mut self,
        protocol: Option<&str>,
        headers: &[(String, String)],
    ) -> Result<(), Error> {
        let Phase::ServerDecision(request) = &self.phase else {
            return Err(Error::Closed);
        };
        let answer =
            handshake::accept_response(request, protocol, request.deflate.as_ref(), headers)?;
        let deflate = request.deflate;
        self.output.extend_from_slice(&answer);
        self.open(Role::Server, deflate);
        Ok(())
    }

    /// Refuses the pending upgrade with `status` (400-599) and extra headers.
    pub fn refuse(&mut self, status: u16, headers: &[(String, String)]) -> Result<(), Error> {
        if !matches!(self.phase, Phase::ServerDecision(_)) {
            return Err(Error::Closed);
        }
        let answer = handshake::refuse_response(status, headers)?;
        self.output.extend_from_slice(&answer);
        self.phase = Phase::Failed;
        Ok(())
    }

    /// Starts the close handshake (see [`Session::close`]) and its timeout.
    pub fn close(&mut self, now: Instant, code: u16, reason: &str) -> Result<(), Error> {
        let session = self.session().ok_or(Error::Closed)?;
        session.close(code, reason)?;
        self.close_sent = Some(now);
        Ok(())
    }

    /// When [`Connection::handle_timeout`] is next due, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let Phase::Open(session) = &self.phase else {
            return None;
        };
        match (session.state(), self.close_sent) {
            (State::Closed, _) => None,
            (State::CloseSent, Some(sent)) => sent.checked_add(self.timeouts.close),
            _ => self
                .timeouts
                .idle
                .and_then(|idle| self.last_heard.checked_add(idle)),
        }
    }

    /// A deadline from [`Connection::poll_timeout`] passed: the idle ping goes out, or the
    /// connection fails ([`Error::IdleTimeout`], [`Error::CloseTimeout`]; end the transport).
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), Error> {
        let Some(due) = self.poll_timeout() else {
            return Ok(());
        };
        if now < due {
            return Ok(());
        }
        let pinged = self.pinged;
        let Phase::Open(session) = &mut self.phase else {
            return Ok(());
        };
        if session.state() == State::CloseSent {
            self.phase = Phase::Failed;
            return Err(Error::CloseTimeout);
        }
        if pinged {
            self.phase = Phase::Failed;
            return Err(Error::IdleTimeout);
        }
        session.ping(b"")?;
        self.pinged = true;
        self.last_heard = now;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ClientConfig, DeflateConfig, HandshakeError};

    fn client_config() -> ClientConfig {
        ClientConfig {
            host: "localhost".into(),
            path: "/".into(),
            headers: Vec::new(),
            subprotocols: vec!["chat".into()],
            deflate: Some(DeflateConfig::default()),
            max_head_size: 4096,
        }
    }

    fn server_config() -> ServerConfig {
        ServerConfig {
            subprotocols: vec!["chat".into()],
            deflate: Some(DeflateConfig::default()),
            ..ServerConfig::default()
        }
    }

    /// A client and a server connection, nothing exchanged yet.
    fn pair(timeouts: Timeouts, now: Instant) -> (Connection, Connection) {
        let handshake = ClientHandshake::new(client_config()).unwrap();
        let client = Connection::client(handshake, SessionConfig::default(), timeouts, now);
        let server = Connection::server(server_config(), SessionConfig::default(), timeouts, now);
        (client, server)
    }

    /// Moves everything `from` has queued into `to`, returning the events.
    fn pump(
        now: Instant,
        from: &mut Connection,
        to: &mut Connection,
        held: &mut Vec<u8>,
    ) -> Vec<ConnEvent> {
        held.extend(from.take_output());
        let mut events = Vec::new();
        loop {
            let r = to.receive(now, held).expect("valid");
            held.drain(..r.consumed);
            match r.event {
                Some(e) => events.push(e),
                None => return events,
            }
        }
    }

    #[test]
    fn handshake_then_messages_with_frames_right_behind_the_head() {
        let now = Instant::now();
        let (mut client, mut server) = pair(Timeouts::default(), now);
        let (mut to_server, mut to_client) = (Vec::new(), Vec::new());
        let events = pump(now, &mut client, &mut server, &mut to_server);
        let [ConnEvent::Upgrade(request)] = &events[..] else {
            panic!("{events:?}")
        };
        assert_eq!(request.protocol.as_deref(), Some("chat"));
        server
            .accept(Some("chat"), &[("X-Hi".into(), "1".into())])
            .unwrap();
        // The server's first message rides in the same bytes as its 101.
        server.session().unwrap().send_text("welcome").unwrap();
        let events = pump(now, &mut server, &mut client, &mut to_client);
        assert!(
            matches!(&events[0], ConnEvent::Open(a) if a.deflate.is_some() && a.protocol.as_deref() == Some("chat"))
        );
        assert_eq!(
            events[1],
            ConnEvent::Ws(Event::Message {
                data: b"welcome".to_vec(),
                binary: false
            })
        );
        client.close(now, 1000, "").unwrap();
        let events = pump(now, &mut client, &mut server, &mut to_server);
        assert!(matches!(&events[..], [ConnEvent::Ws(Event::Close(_))]));
        assert!(server.is_finished());
        pump(now, &mut server, &mut client, &mut to_client);
        assert!(client.is_finished());
    }

    #[test]
    fn a_head_in_single_bytes() {
        let now = Instant::now();
        let (mut client, mut server) = pair(Timeouts::default(), now);
        let request = client.take_output();
        for (i, byte) in request.iter().enumerate() {
            let r = server.receive(now, &[*byte]).unwrap();
            assert_eq!(r.consumed, 1);
            assert_eq!(r.event.is_some(), i + 1 == request.len());
        }
    }

    #[test]
    fn refusals() {
        let now = Instant::now();
        let mut server = Connection::server(
            server_config(),
            SessionConfig::default(),
            Timeouts::default(),
            now,
        );
        let err = server
            .receive(now, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap_err();
        assert!(matches!(
            err,
            Error::Handshake(HandshakeError::NotUpgrade(_))
        ));
        assert!(server.take_output().starts_with(b"HTTP/1.1 400 "));
        assert!(server.is_finished());

        let (mut client, mut server) = pair(Timeouts::default(), now);
        pump(now, &mut client, &mut server, &mut Vec::new());
        server.refuse(403, &[]).unwrap();
        assert_eq!(server.accept(None, &[]), Err(Error::Closed));
        let err = client.receive(now, &server.take_output()).unwrap_err();
        assert_eq!(err, Error::Handshake(HandshakeError::Status(403)));

        let mut server = Connection::server(
            server_config(),
            SessionConfig::default(),
            Timeouts::default(),
            now,
        );
        let err = server.receive(now, &[b'a'; 9000]).unwrap_err();
        assert_eq!(err, Error::Handshake(HandshakeError::HeadTooLarge(8192)));
        assert!(server.take_output().starts_with(b"HTTP/1.1 431 "));
    }

    #[test]
    fn idle_ping_then_timeout_and_close_timeout() {
        let t0 = Instant::now();
        let second = Duration::from_secs(1);
        let timeouts = Timeouts {
            idle: Some(10 * second),
            close: 3 * second,
        };
        let (mut client, mut server) = pair(timeouts, t0);
        pump(t0, &mut client, &mut server, &mut Vec::new());
        server.accept(None, &[]).unwrap();
        pump(t0, &mut server, &mut client, &mut Vec::new());
        assert_eq!(server.poll_timeout(), Some(t0 + 10 * second));
        server.handle_timeout(t0 + 5 * second).unwrap();
        assert!(server.take_output().is_empty(), "not due yet");
        server.handle_timeout(t0 + 10 * second).unwrap();
        let ping = server.take_output();
        assert_eq!(ping, [0x89, 0x00]);
        // The client answers: the server hears from it and the idle clock restarts.
        let events = pump(
            t0 + 11 * second,
            &mut server,
            &mut client,
            &mut ping.to_vec(),
        );
        assert_eq!(events, [ConnEvent::Ws(Event::Ping(Vec::new()))]);
        pump(t0 + 11 * second, &mut client, &mut server, &mut Vec::new());
        assert_eq!(server.poll_timeout(), Some(t0 + 21 * second));
        // Silence: a ping at 21 s, then failure at 31 s.
        server.handle_timeout(t0 + 21 * second).unwrap();
        assert_eq!(
            server.handle_timeout(t0 + 31 * second),
            Err(Error::IdleTimeout)
        );
        assert!(server.is_finished());

        client.close(t0 + 40 * second, 1000, "").unwrap();
        assert_eq!(client.poll_timeout(), Some(t0 + 43 * second));
        assert_eq!(
            client.handle_timeout(t0 + 43 * second),
            Err(Error::CloseTimeout)
        );
        assert!(client.is_finished());
    }
}
