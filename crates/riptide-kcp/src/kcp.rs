//! The KCP state machine: `ikcp.c` 1.7.1 with the output callback replaced by an outbox and
//! the linked lists replaced by ring buffers.
//!
//! Storage: the send queue and the receive queue are `VecDeque<Segment>`; the send buffer and
//! the receive buffer are `VecDeque<Option<Segment>>` rings indexed by `sn - snd_una` and
//! `sn - rcv_nxt` (a hole is an acknowledged or not yet received segment). Visiting a ring in
//! index order is visiting ikcp's sorted list, which keeps flush order byte-exact, while an
//! ACK or an arriving segment finds its slot in O(1). Payload buffers come from a [`Pool`]
//! and datagrams go to an [`Outbox`]; both are reused, so steady-state traffic allocates
//! nothing.
//!
//! Arithmetic on counters, times and estimators wraps exactly where C's unsigned (and, in
//! practice, signed) arithmetic does, so hostile values cannot panic and results match C.

use std::collections::VecDeque;

use crate::config::Config;
use crate::error::{ConfigError, InputError, RecvError, SendError};
use crate::outbox::Outbox;
use crate::pool::Pool;
use crate::segment::*;
use crate::stats::Stats;

/// A queued, in-flight or received segment. Header fields that ikcp stores per segment but
/// rewrites before every transmission (`conv`, `cmd`, `wnd`, `una`) are not kept.
#[derive(Debug)]
struct Segment {
    sn: u32,
    frg: u8,
    ts: u32,
    resendts: u32,
    rto: u32,
    fastack: u32,
    xmit: u32,
    data: Vec<u8>,
}

impl Segment {
    fn new(frg: u8, data: Vec<u8>) -> Segment {
        Segment {
            sn: 0,
            frg,
            ts: 0,
            resendts: 0,
            rto: 0,
            fastack: 0,
            xmit: 0,
            data,
        }
    }
}

/// One KCP session (a `kcpcb`), without sockets or clock.
///
/// Feed it application messages ([`send`](Kcp::send)), received datagrams
/// ([`input`](Kcp::input)) and time ([`handle_timeout`](Kcp::handle_timeout)); take out
/// datagrams to transmit ([`poll_transmit`](Kcp::poll_transmit)), received messages
/// ([`recv`](Kcp::recv)) and the next deadline ([`poll_timeout`](Kcp::poll_timeout)).
/// Given the same calls at the same times it produces the same bytes as `ikcp.c` 1.7.1.
#[derive(Debug)]
pub struct Kcp {
    conv: u32,
    mtu: usize,
    mss: usize,
    headroom: usize,
    /// [`Config::fastack_each`]: fast-retransmit evidence counted per ACK, not per datagram.
    fastack_each: bool,
    stream: bool,
    nodelay: u32,
    interval: u32,
    fastresend: u32,
    fastlimit: i32,
    nocwnd: bool,
    dead_link: u32,
    dead: bool,

    snd_una: u32,
    snd_nxt: u32,
    rcv_nxt: u32,
    ssthresh: u32,
    rx_rttval: i32,
    rx_srtt: i32,
    rx_rto: i32,
    rx_minrto: i32,
    snd_wnd: u32,
    rcv_wnd: u32,
    rmt_wnd: u32,
    cwnd: u32,
    incr: u32,
    probe: u32,
    current: u32,
    ts_flush: u32,
    updated: bool,
    ts_probe: u32,
    probe_wait: u32,

    retransmits: u64,
    fast_retransmits: u64,
    in_segments: u64,
    out_segments: u64,
    out_datagrams: u64,

    snd_queue: VecDeque<Segment>,
    /// Slot `i` holds `sn = snd_una + i`; `len() == snd_nxt - snd_una`; the front is never a
    /// hole (ikcp's `snd_una` is the first unacknowledged segment).
    snd_buf: VecDeque<Option<Segment>>,
    nsnd_buf: usize,
    /// Slot `i` holds `sn = rcv_nxt + i`; `len() <= rcv_wnd`.
    rcv_buf: VecDeque<Option<Segment>>,
    /// Occupied slots of `rcv_buf`.
    nrcv_buf: usize,
    /// Set once the peer acknowledged (by ACK or `una`) a data segment we sent.
    peer_acked: bool,
    rcv_queue: VecDeque<Segment>,
    /// `(sn, ts)` of data segments to acknowledge at the next flush.
    acklist: Vec<(u32, u32)>,
    pool: Pool,
    outbox: Outbox,
}

impl Kcp {
    /// Creates a session for conversation `conv` (both ends must use the same id).
    ///
    /// Fails when `config` asks for an impossible MTU or a zero send window; `interval` and
    /// `rcv_wnd` are clamped as ikcp does.
    pub fn new(conv: u32, config: &Config) -> Result<Kcp, ConfigError> {
        config.validate()?;
        // `validate` checked mtu >= 50 > OVERHEAD.
        let mss = config.mtu.saturating_sub(OVERHEAD);
        let rcv_wnd = u32::from(config.rcv_wnd.max(WND_RCV));
        let snd_wnd = u32::from(config.snd_wnd);
        let default_min_rto = if config.nodelay != 0 {
            RTO_NDL
        } else {
            RTO_MIN
        };
        Ok(Kcp {
            conv,
            mtu: config.mtu,
            mss,
            headroom: config.headroom,
            fastack_each: config.fastack_each,
            stream: config.stream,
            nodelay: config.nodelay,
            interval: config.interval.clamp(10, 5000),
            fastresend: config.resend,
            fastlimit: FASTACK_LIMIT,
            nocwnd: config.nc,
            dead_link: config.dead_link,
            dead: false,
            snd_una: 0,
            snd_nxt: 0,
            rcv_nxt: 0,
            ssthresh: THRESH_INIT,
            rx_rttval: 0,
            rx_srtt: 0,
            rx_rto: RTO_DEF as i32,
            rx_minrto: config.min_rto.unwrap_or(default_min_rto) as i32,
            snd_wnd,
            rcv_wnd,
            rmt_wnd: u32::from(WND_RCV),
            cwnd: 0,
            incr: 0,
            probe: 0,
            current: 0,
            ts_flush: INTERVAL,
            updated: false,
            ts_probe: 0,
            probe_wait: 0,
            retransmits: 0,
            fast_retransmits: 0,
            in_segments: 0,
            out_segments: 0,
            out_datagrams: 0,
            snd_queue: VecDeque::new(),
            snd_buf: VecDeque::new(),
            nsnd_buf: 0,
            rcv_buf: VecDeque::new(),
            nrcv_buf: 0,
            peer_acked: false,
            rcv_queue: VecDeque::new(),
            acklist: Vec::new(),
            pool: Pool::new(
                usize::from(config.snd_wnd).saturating_add(rcv_wnd as usize),
                mss,
            ),
            outbox: Outbox::default(),
        })
    }

    /// The conversation id this session accepts and stamps on its segments.
    pub fn conv(&self) -> u32 {
        self.conv
    }

    /// Queues a message (`ikcp_send`), fragmented into MSS-sized segments, unless the send
    /// window is already full.
    ///
    /// Returns [`SendError::WouldBlock`] when [`wait_snd`](Kcp::wait_snd) `>= snd_wnd` and
    /// [`SendError::TooLarge`] when the message needs 128 fragments or more; nothing is
    /// queued in either case. In stream mode the bytes first fill the last queued, unsent
    /// segment. An empty message is a real (empty) message in message mode and a no-op in
    /// stream mode, as in ikcp.
    pub fn send(&mut self, data: &[u8]) -> Result<(), SendError> {
        if !self.is_writable() {
            return Err(SendError::WouldBlock);
        }
        self.enqueue(data)
    }

    /// Like [`send`](Kcp::send) without the window check: for callers that apply their own
    /// backpressure (Node's `write()` returns `false` but the message is still accepted).
    /// The queue is unbounded; watch [`is_writable`](Kcp::is_writable).
    ///
    /// Deviation from ikcp, unobservable on the wire: an oversized stream-mode write is
    /// refused whole, where `ikcp_send` would first top up the last queued segment.
    pub fn enqueue(&mut self, data: &[u8]) -> Result<(), SendError> {
        let mss = self.mss;
        let mut extend = 0;
        if self.stream {
            if let Some(last) = self.snd_queue.back() {
                if last.data.len() < mss {
                    extend = data.len().min(mss.saturating_sub(last.data.len()));
                }
            }
        }
        // `extend <= data.len()`, so both halves exist.
        let (head, rest) = data.split_at_checked(extend).unwrap_or((&[], data));
        let count = if rest.len() <= mss {
            1
        } else {
            rest.len().div_ceil(mss)
        };
        if count >= usize::from(WND_RCV) {
            return Err(SendError::TooLarge);
        }
        if extend > 0 {
            if let Some(last) = self.snd_queue.back_mut() {
                last.data.extend_from_slice(head);
            }
        }
        if self.stream && rest.is_empty() {
            return Ok(());
        }
        // `count` chunks of at most one MSS (one empty chunk for an empty message).
        let mut chunks = rest.chunks(mss.max(1));
        for remaining in (0..count).rev() {
            let chunk = chunks.next().unwrap_or_default();
            let mut buf = self.pool.take();
            buf.extend_from_slice(chunk);
            // count < 128, so the countdown fits the u8 header field.
            let frg = if self.stream { 0 } else { remaining as u8 };
            self.snd_queue.push_back(Segment::new(frg, buf));
        }
        Ok(())
    }

    /// Size of the next message [`recv`](Kcp::recv) would return (`ikcp_peeksize`), or `None`
    /// when no whole message is waiting. In stream mode every segment is a "message" of its
    /// own, so this is the size of the next segment's bytes; `recv` in a loop drains the
    /// stream. (Reading segment by segment keeps the advertised window, and so the wire
    /// bytes, identical to ikcp.)
    pub fn peek_size(&self) -> Option<usize> {
        let first = self.rcv_queue.front()?;
        if first.frg == 0 {
            return Some(first.data.len());
        }
        if self.rcv_queue.len() < usize::from(first.frg) + 1 {
            return None;
        }
        let mut len = 0;
        for seg in &self.rcv_queue {
            len = seg.data.len().saturating_add(len);
            if seg.frg == 0 {
                break;
            }
        }
        Some(len)
    }

    /// Copies the next whole message into `buf` and returns its length (`ikcp_recv`).
    ///
    /// [`RecvError::Empty`] when none is ready; [`RecvError::BufferTooSmall`] leaves the
    /// message queued. Reading can reopen a full receive window, in which case the next
    /// flush tells the peer (WINS).
    pub fn recv(&mut self, buf: &mut [u8]) -> Result<usize, RecvError> {
        let size = self.peek_size().ok_or(RecvError::Empty)?;
        if size > buf.len() {
            return Err(RecvError::BufferTooSmall { needed: size });
        }
        let recover = self.rcv_queue.len() >= self.rcv_wnd as usize;
        let mut off: usize = 0;
        // Walks the same segments as `peek_size`, so the total is `size <= buf.len()`.
        while let Some(seg) = self.rcv_queue.pop_front() {
            let end = off.saturating_add(seg.data.len());
            if let Some(dst) = buf.get_mut(off..end) {
                dst.copy_from_slice(&seg.data);
            }
            off = end;
            let last = seg.frg == 0;
            self.pool.give(seg.data);
            if last {
                break;
            }
        }
        self.move_to_queue();
        if self.rcv_queue.len() < self.rcv_wnd as usize && recover {
            self.probe |= ASK_TELL;
        }
        Ok(off)
    }

    /// Processes one received datagram (`ikcp_input`): acknowledgements, data, window
    /// probes. `now` is the current time in ms, used for RTT samples.
    ///
    /// Segments before a malformed one are processed; on error the rest of the datagram is
    /// ignored, as in ikcp. Nothing is sent from here: acknowledgements leave at the next
    /// [`handle_timeout`](Kcp::handle_timeout) or [`flush`](Kcp::flush).
    pub fn input(&mut self, now: u32, datagram: &[u8]) -> Result<(), InputError> {
        self.input_with(now, datagram, true)
    }

    /// [`input`](Kcp::input) for a datagram FEC rebuilt from parity rather than received:
    /// it is processed the same way, except that it neither samples the RTT nor sets the
    /// peer's window, which describe the moment it was first sent (kcp-go's
    /// `IKCP_PACKET_FEC` input).
    pub fn input_recovered(&mut self, now: u32, datagram: &[u8]) -> Result<(), InputError> {
        self.input_with(now, datagram, false)
    }

    /// The body of [`input`](Kcp::input); `regular` is false for a recovered datagram.
    fn input_with(&mut self, now: u32, datagram: &[u8], regular: bool) -> Result<(), InputError> {
        self.current = now;
        if datagram.len() < OVERHEAD {
            return Err(InputError::Truncated);
        }
        let prev_una = self.snd_una;
        // (maxack, latest_ts) of the newest ACK, for fast-retransmit counting.
        let mut newest_ack: Option<(u32, u32)> = None;
        let mut rest = datagram;
        while let Some(h) = Header::decode(rest) {
            if h.conv != self.conv {
                return Err(InputError::WrongConv);
            }
            // `decode` succeeded, so `rest` holds at least the header.
            let body = rest.get(OVERHEAD..).unwrap_or_default();
            // The length is the peer's word: convert and slice with checks only.
            let len = usize::try_from(h.len).map_err(|_| InputError::BadLength)?;
            let (Some(payload), Some(after)) = (body.get(..len), body.get(len..)) else {
                return Err(InputError::BadLength);
            };
            if len > self.mss {
                return Err(InputError::Oversize);
            }
            if !matches!(h.cmd, CMD_PUSH | CMD_ACK | CMD_WASK | CMD_WINS) {
                return Err(InputError::BadCommand);
            }
            rest = after;
            self.in_segments = self.in_segments.wrapping_add(1);
            if regular {
                self.rmt_wnd = u32::from(h.wnd);
            }
            self.parse_una(h.una);
            match h.cmd {
                CMD_ACK => {
                    let rtt = diff(self.current, h.ts);
                    if rtt >= 0 && regular {
                        self.update_ack(rtt);
                    }
                    self.parse_ack(h.sn);
                    if self.fastack_each {
                        self.parse_fastack(h.sn, h.ts);
                        continue;
                    }
                    newest_ack = Some(match newest_ack {
                        // IKCP_FASTACK_CONSERVE: only a later-sent ACK moves the mark.
                        Some((sn, ts)) if !(diff(h.sn, sn) > 0 && diff(h.ts, ts) > 0) => (sn, ts),
                        _ => (h.sn, h.ts),
                    });
                }
                // Inside the window (or old): acknowledge, and store if not old.
                CMD_PUSH if diff(h.sn, self.rcv_nxt.wrapping_add(self.rcv_wnd)) < 0 => {
                    self.acklist.push((h.sn, h.ts));
                    if diff(h.sn, self.rcv_nxt) >= 0 {
                        self.parse_data(h.sn, h.frg, payload);
                    }
                }
                CMD_WASK => self.probe |= ASK_TELL,
                _ => {} // WINS (rmt_wnd was updated above), or PUSH beyond the window.
            }
        }
        if let Some((sn, ts)) = newest_ack {
            self.parse_fastack(sn, ts);
        }
        if diff(self.snd_una, prev_una) > 0 && self.cwnd < self.rmt_wnd {
            let mss = self.mss as u32;
            if self.cwnd < self.ssthresh {
                self.cwnd = self.cwnd.wrapping_add(1);
                self.incr = self.incr.wrapping_add(mss);
            } else {
                if self.incr < mss {
                    self.incr = mss;
                }
                // C's unsigned arithmetic; `incr >= mss > 0` here, so no division by zero.
                let step = mss
                    .wrapping_mul(mss)
                    .checked_div(self.incr)
                    .unwrap_or(0)
                    .wrapping_add(mss / 16);
                self.incr = self.incr.wrapping_add(step);
                if self.cwnd.wrapping_add(1).wrapping_mul(mss) <= self.incr {
                    self.cwnd = self
                        .incr
                        .wrapping_add(mss.wrapping_sub(1))
                        .checked_div(mss)
                        .unwrap_or(self.cwnd);
                }
            }
            if self.cwnd > self.rmt_wnd {
                self.cwnd = self.rmt_wnd;
                self.incr = self.rmt_wnd.wrapping_mul(mss);
            }
        }
        Ok(())
    }

    /// Takes the next datagram produced by a flush: writes it at `buf[headroom..]` and
    /// returns `headroom + datagram length`. `None` when nothing is waiting, or when `buf` is
    /// shorter than `headroom + mtu` would need for this datagram (it then stays queued).
    ///
    /// `now` is accepted for future pacing; today datagrams are released as soon as flushed.
    pub fn poll_transmit(&mut self, now: u32, buf: &mut [u8]) -> Option<usize> {
        let _ = now;
        self.outbox.pop(self.headroom, buf)
    }

    /// When [`handle_timeout`](Kcp::handle_timeout) must next be called, or `None` when the
    /// session is idle (nothing queued or in flight, no acknowledgement or probe pending, the
    /// peer's window open). A fresh `input` or `send` can end idleness: ask again after them.
    ///
    /// Deliberate deviation from `ikcp_check`, which wakes every `interval` even when idle;
    /// the wire behaviour is unchanged, since an idle flush sends nothing. While only
    /// retransmission timers run, the deadline is the first of them rather than the next
    /// interval tick.
    ///
    /// A new session has no clock: call `handle_timeout(now)` once after creating it (or
    /// feed it `input`/`flush`). Until then a busy session returns `Some(0)`, which is only
    /// "now" for a clock that starts at 0.
    pub fn poll_timeout(&self) -> Option<u32> {
        if self.is_idle() {
            return None;
        }
        if !self.updated {
            return Some(self.current);
        }
        // A flush deadline more than one interval ahead is stale across a clock wrap.
        let flush_at = if diff(self.ts_flush, self.current) > self.interval as i32 {
            self.current
        } else {
            self.ts_flush
        };
        let mut deadline = (!self.acklist.is_empty()
            || self.probe != 0
            || self.rmt_wnd == 0
            || !self.snd_queue.is_empty())
        .then_some(flush_at);
        let resent = self.fast_resend_threshold();
        for seg in self.snd_buf.iter().flatten() {
            let fast =
                seg.fastack >= resent && (seg.xmit as i32 <= self.fastlimit || self.fastlimit <= 0);
            // Retransmissions only happen in a flush, so never before `flush_at`.
            let at = if !fast && diff(seg.resendts, flush_at) > 0 {
                seg.resendts
            } else {
                flush_at
            };
            deadline = Some(match deadline {
                Some(d) if diff(d, at) <= 0 => d,
                _ => at,
            });
        }
        deadline
    }

    /// `ikcp_update(now)`: when the flush schedule is due, flushes acknowledgements, window
    /// probes, new data and retransmissions into the outbox (drain it with
    /// [`poll_transmit`](Kcp::poll_transmit)). Calling it early is harmless.
    pub fn handle_timeout(&mut self, now: u32) {
        self.current = now;
        if !self.updated {
            self.updated = true;
            self.ts_flush = now;
        }
        let mut slap = diff(now, self.ts_flush);
        if !(-10000..10000).contains(&slap) {
            self.ts_flush = now;
            slap = 0;
        }
        if slap >= 0 {
            self.ts_flush = self.ts_flush.wrapping_add(self.interval);
            if diff(now, self.ts_flush) >= 0 {
                self.ts_flush = now.wrapping_add(self.interval);
            }
            self.flush_now();
        }
    }

    /// `ikcp_flush` now, whatever the schedule: for callers that want acknowledgements or
    /// fresh data out immediately after `input`/`send`. Unlike ikcp it also works before
    /// the first `handle_timeout` (it starts the schedule at `now`).
    pub fn flush(&mut self, now: u32) {
        self.current = now;
        if !self.updated {
            self.updated = true;
            self.ts_flush = now;
        }
        self.flush_now();
    }

    /// Segments not yet acknowledged: in flight plus queued (`ikcp_waitsnd`).
    pub fn wait_snd(&self) -> usize {
        self.nsnd_buf.saturating_add(self.snd_queue.len())
    }

    /// Whether [`send`](Kcp::send) would accept a message now (`wait_snd() < snd_wnd`).
    pub fn is_writable(&self) -> bool {
        self.wait_snd() < self.snd_wnd as usize
    }

    /// Whether some segment was transmitted `dead_link` times without being acknowledged
    /// (ikcp's `state == -1`). The session keeps running; closing it is the caller's call.
    pub fn is_dead(&self) -> bool {
        self.dead
    }

    /// Segments this session holds: queued and in flight (send side), out of order and
    /// waiting for [`recv`](Kcp::recv) (receive side).
    ///
    /// The receive side is bounded by the protocol: at most `rcv_wnd` segments in the reorder
    /// ring (sequence numbers `rcv_nxt .. rcv_nxt + rcv_wnd`) plus at most `rcv_wnd` in the
    /// receive queue, i.e. `2 × rcv_wnd`. The send side holds what the application queued
    /// (`wait_snd`); `send` refuses past `snd_wnd`, `enqueue` does not.
    pub fn buffered_segments(&self) -> usize {
        self.wait_snd()
            .saturating_add(self.nrcv_buf)
            .saturating_add(self.rcv_queue.len())
    }

    /// Payload memory held by [`buffered_segments`](Kcp::buffered_segments): each segment's
    /// buffer has a capacity of one MSS whatever its length (segments longer than the MSS
    /// are refused by [`input`](Kcp::input)), so this is `segments × mss`. The receive side
    /// alone never exceeds `2 × rcv_wnd × mss` bytes, whatever the peer sends.
    pub fn buffered_bytes(&self) -> usize {
        self.buffered_segments().saturating_mul(self.mss)
    }

    /// Whether the peer has acknowledged at least one data segment we sent: it then receives
    /// at the address we send to and runs KCP with us. A session that never saw this may be
    /// one spoofed or one-shot datagram; listeners use it to tell such "unconfirmed" sessions
    /// from real ones.
    pub fn peer_acked(&self) -> bool {
        self.peer_acked
    }

    /// Largest payload per segment (`mtu - 24`).
    pub fn mss(&self) -> usize {
        self.mss
    }

    /// Largest message [`send`](Kcp::send) accepts: 127 segments of `mss` bytes.
    pub fn max_message(&self) -> usize {
        usize::from(WND_RCV - 1).saturating_mul(self.mss)
    }

    /// A snapshot of estimators, windows and counters.
    pub fn stats(&self) -> Stats {
        Stats {
            srtt: self.rx_srtt,
            rttvar: self.rx_rttval,
            rto: self.rx_rto as u32,
            retransmits: self.retransmits,
            fast_retransmits: self.fast_retransmits,
            snd_wnd: self.snd_wnd,
            rcv_wnd: self.rcv_wnd,
            rmt_wnd: self.rmt_wnd,
            cwnd: self.cwnd,
            ssthresh: self.ssthresh,
            in_segments: self.in_segments,
            out_segments: self.out_segments,
            out_datagrams: self.out_datagrams,
            dead: self.dead,
        }
    }

    /// Gives back pooled buffers and spare queue capacity; for sessions that went quiet,
    /// so thousands of idle sessions do not pin their peak memory.
    pub fn trim(&mut self) {
        self.pool.clear();
        self.outbox.shrink();
        self.acklist.shrink_to_fit();
        self.snd_queue.shrink_to_fit();
        self.snd_buf.shrink_to_fit();
        self.rcv_buf.shrink_to_fit();
        self.rcv_queue.shrink_to_fit();
    }

    /// Testing aid: starts the sequence numbers at `snd_nxt` (ours) and `rcv_nxt` (the peer's)
    /// instead of 0, to exercise the 2^32 wrap without sending four billion segments. Only
    /// meaningful on a fresh session; the peer must be set to the mirror values.
    #[doc(hidden)]
    pub fn set_initial_sn(&mut self, snd_nxt: u32, rcv_nxt: u32) {
        if self.wait_snd() == 0 && self.rcv_buf.is_empty() && self.rcv_queue.is_empty() {
            self.snd_una = snd_nxt;
            self.snd_nxt = snd_nxt;
            self.rcv_nxt = rcv_nxt;
        }
    }

    fn is_idle(&self) -> bool {
        self.snd_queue.is_empty()
            && self.nsnd_buf == 0
            && self.acklist.is_empty()
            && self.probe == 0
            && self.rmt_wnd != 0
    }

    fn fast_resend_threshold(&self) -> u32 {
        if self.fastresend > 0 {
            self.fastresend
        } else {
            u32::MAX
        }
    }

    fn wnd_unused(&self) -> u32 {
        (self.rcv_wnd as usize).saturating_sub(self.rcv_queue.len()) as u32
    }

    /// `ikcp_update_ack`: RFC 6298-style estimator, with C's integer arithmetic (including
    /// its wrapping on absurd samples a hostile peer can produce).
    fn update_ack(&mut self, rtt: i32) {
        if self.rx_srtt == 0 {
            self.rx_srtt = rtt;
            self.rx_rttval = rtt / 2;
        } else {
            let delta = i64::from(rtt.wrapping_sub(self.rx_srtt)).abs();
            self.rx_rttval =
                (i64::from(self.rx_rttval.wrapping_mul(3)).wrapping_add(delta) / 4) as i32;
            self.rx_srtt = self.rx_srtt.wrapping_mul(7).wrapping_add(rtt) / 8;
            if self.rx_srtt < 1 {
                self.rx_srtt = 1;
            }
        }
        let rto = (self.rx_srtt as u32)
            .wrapping_add(self.interval.max(self.rx_rttval.wrapping_mul(4) as u32));
        self.rx_rto = (self.rx_minrto as u32).max(rto).min(RTO_MAX) as i32;
    }

    /// Drops acknowledged holes from the front of the send buffer (`ikcp_shrink_buf`).
    fn shrink_buf(&mut self) {
        while matches!(self.snd_buf.front(), Some(None)) {
            self.snd_buf.pop_front();
            self.snd_una = self.snd_una.wrapping_add(1);
        }
    }

    /// Everything before `una` arrived (`ikcp_parse_una` + `ikcp_shrink_buf`).
    fn parse_una(&mut self, una: u32) {
        for slot in self.snd_buf.iter_mut() {
            let acked = match slot {
                Some(seg) => diff(una, seg.sn) > 0,
                None => continue,
            };
            if !acked {
                break;
            }
            if let Some(seg) = slot.take() {
                self.pool.give(seg.data);
                self.nsnd_buf = self.nsnd_buf.saturating_sub(1);
                self.peer_acked = true;
            }
        }
        self.shrink_buf();
    }

    /// Selective acknowledgement of `sn` (`ikcp_parse_ack` + `ikcp_shrink_buf`).
    fn parse_ack(&mut self, sn: u32) {
        if diff(sn, self.snd_una) < 0 || diff(sn, self.snd_nxt) >= 0 {
            return;
        }
        let idx = sn.wrapping_sub(self.snd_una) as usize;
        if let Some(seg) = self.snd_buf.get_mut(idx).and_then(Option::take) {
            self.pool.give(seg.data);
            self.nsnd_buf = self.nsnd_buf.saturating_sub(1);
            self.peer_acked = true;
        }
        self.shrink_buf();
    }

    /// Counts, for each segment sent before the newest acknowledged one, one more skip.
    fn parse_fastack(&mut self, sn: u32, ts: u32) {
        if diff(sn, self.snd_una) < 0 || diff(sn, self.snd_nxt) >= 0 {
            return;
        }
        for seg in self.snd_buf.iter_mut().flatten() {
            if diff(sn, seg.sn) < 0 {
                break;
            }
            if sn != seg.sn && diff(ts, seg.ts) >= 0 {
                seg.fastack = seg.fastack.wrapping_add(1);
            }
        }
    }

    /// Stores a data segment in the receive ring and moves what became contiguous to the
    /// receive queue (`ikcp_parse_data`). Duplicates and out-of-window segments are dropped.
    fn parse_data(&mut self, sn: u32, frg: u8, payload: &[u8]) {
        if diff(sn, self.rcv_nxt.wrapping_add(self.rcv_wnd)) >= 0 || diff(sn, self.rcv_nxt) < 0 {
            return;
        }
        // In [0, rcv_wnd) by the check above, so the ring never exceeds rcv_wnd slots.
        let Ok(idx) = usize::try_from(sn.wrapping_sub(self.rcv_nxt)) else {
            return;
        };
        if idx >= self.rcv_buf.len() {
            self.rcv_buf.resize_with(idx.saturating_add(1), || None);
        }
        if let Some(slot @ None) = self.rcv_buf.get_mut(idx) {
            // `input` refused payloads over the MSS: the buffer keeps its `mss` capacity.
            let mut data = self.pool.take();
            data.extend_from_slice(payload);
            let mut seg = Segment::new(frg, data);
            seg.sn = sn;
            *slot = Some(seg);
            self.nrcv_buf = self.nrcv_buf.saturating_add(1);
        }
        self.move_to_queue();
    }

    /// Moves in-order segments from the receive ring to the receive queue while the receive
    /// window has room.
    fn move_to_queue(&mut self) {
        while self.rcv_queue.len() < self.rcv_wnd as usize {
            match self.rcv_buf.front() {
                Some(Some(_)) => {}
                _ => break,
            }
            if let Some(Some(seg)) = self.rcv_buf.pop_front() {
                self.nrcv_buf = self.nrcv_buf.saturating_sub(1);
                self.rcv_queue.push_back(seg);
                self.rcv_nxt = self.rcv_nxt.wrapping_add(1);
            }
        }
    }

    /// Closes the datagram being built when `need` more bytes would overflow the MTU.
    fn make_room(outbox: &mut Outbox, out_datagrams: &mut u64, mtu: usize, need: usize) {
        if outbox.open_len().saturating_add(need) > mtu {
            Self::finish(outbox, out_datagrams);
        }
    }

    fn finish(outbox: &mut Outbox, out_datagrams: &mut u64) {
        if outbox.open_len() > 0 {
            *out_datagrams = out_datagrams.wrapping_add(1);
        }
        outbox.finish();
    }

    /// `ikcp_flush`, writing datagrams into the outbox.
    fn flush_now(&mut self) {
        let current = self.current;
        let mtu = self.mtu;
        let mut hdr = Header {
            conv: self.conv,
            cmd: CMD_ACK,
            frg: 0,
            // rcv_wnd <= 65535, so this never truncates.
            wnd: self.wnd_unused() as u16,
            ts: 0,
            sn: 0,
            una: self.rcv_nxt,
            len: 0,
        };

        for &(sn, ts) in &self.acklist {
            Self::make_room(&mut self.outbox, &mut self.out_datagrams, mtu, OVERHEAD);
            hdr.sn = sn;
            hdr.ts = ts;
            hdr.encode(self.outbox.bytes());
            self.out_segments = self.out_segments.wrapping_add(1);
        }
        self.acklist.clear();

        if self.rmt_wnd == 0 {
            if self.probe_wait == 0 {
                self.probe_wait = PROBE_INIT;
                self.ts_probe = current.wrapping_add(self.probe_wait);
            } else if diff(current, self.ts_probe) >= 0 {
                if self.probe_wait < PROBE_INIT {
                    self.probe_wait = PROBE_INIT;
                }
                // At most PROBE_LIMIT (120 s) before this: no overflow.
                self.probe_wait = self.probe_wait.saturating_add(self.probe_wait / 2);
                if self.probe_wait > PROBE_LIMIT {
                    self.probe_wait = PROBE_LIMIT;
                }
                self.ts_probe = current.wrapping_add(self.probe_wait);
                self.probe |= ASK_SEND;
            }
        } else {
            self.ts_probe = 0;
            self.probe_wait = 0;
        }

        // Like ikcp, probes reuse the header of the last ACK (its sn and ts included).
        for (flag, cmd) in [(ASK_SEND, CMD_WASK), (ASK_TELL, CMD_WINS)] {
            if self.probe & flag != 0 {
                hdr.cmd = cmd;
                Self::make_room(&mut self.outbox, &mut self.out_datagrams, mtu, OVERHEAD);
                hdr.encode(self.outbox.bytes());
                self.out_segments = self.out_segments.wrapping_add(1);
            }
        }
        self.probe = 0;

        let mut cwnd = self.snd_wnd.min(self.rmt_wnd);
        if !self.nocwnd {
            cwnd = self.cwnd.min(cwnd);
        }
        while diff(self.snd_nxt, self.snd_una.wrapping_add(cwnd)) < 0 {
            let Some(mut seg) = self.snd_queue.pop_front() else {
                break;
            };
            seg.ts = current;
            seg.sn = self.snd_nxt;
            seg.resendts = current;
            seg.rto = self.rx_rto as u32;
            seg.fastack = 0;
            seg.xmit = 0;
            self.snd_nxt = self.snd_nxt.wrapping_add(1);
            self.snd_buf.push_back(Some(seg));
            self.nsnd_buf = self.nsnd_buf.saturating_add(1);
        }

        let resent = self.fast_resend_threshold();
        let rtomin = if self.nodelay == 0 {
            (self.rx_rto >> 3) as u32
        } else {
            0
        };
        let rx_rto = self.rx_rto;
        let mut change = 0u32;
        let mut lost = false;
        for seg in self.snd_buf.iter_mut().flatten() {
            let mut needsend = false;
            if seg.xmit == 0 {
                needsend = true;
                seg.xmit = 1;
                seg.rto = rx_rto as u32;
                seg.resendts = current.wrapping_add(seg.rto).wrapping_add(rtomin);
            } else if diff(current, seg.resendts) >= 0 {
                needsend = true;
                seg.xmit = seg.xmit.wrapping_add(1);
                self.retransmits = self.retransmits.wrapping_add(1);
                if self.nodelay == 0 {
                    seg.rto = seg.rto.wrapping_add(seg.rto.max(rx_rto as u32));
                } else {
                    let step = if self.nodelay < 2 {
                        seg.rto as i32
                    } else {
                        rx_rto
                    };
                    seg.rto = seg.rto.wrapping_add((step / 2) as u32);
                }
                seg.resendts = current.wrapping_add(seg.rto);
                lost = true;
            } else if seg.fastack >= resent
                && (seg.xmit as i32 <= self.fastlimit || self.fastlimit <= 0)
            {
                needsend = true;
                seg.xmit = seg.xmit.wrapping_add(1);
                seg.fastack = 0;
                seg.resendts = current.wrapping_add(seg.rto);
                change = change.wrapping_add(1);
                self.fast_retransmits = self.fast_retransmits.wrapping_add(1);
            }

            if needsend {
                seg.ts = current;
                Self::make_room(
                    &mut self.outbox,
                    &mut self.out_datagrams,
                    mtu,
                    OVERHEAD.saturating_add(seg.data.len()),
                );
                let out = self.outbox.bytes();
                Header {
                    cmd: CMD_PUSH,
                    frg: seg.frg,
                    ts: current,
                    sn: seg.sn,
                    len: seg.data.len() as u32,
                    ..hdr
                }
                .encode(out);
                out.extend_from_slice(&seg.data);
                self.out_segments = self.out_segments.wrapping_add(1);
                if seg.xmit >= self.dead_link {
                    self.dead = true;
                }
            }
        }
        Self::finish(&mut self.outbox, &mut self.out_datagrams);

        let mss = self.mss as u32;
        if change > 0 {
            let inflight = self.snd_nxt.wrapping_sub(self.snd_una);
            self.ssthresh = (inflight / 2).max(THRESH_MIN);
            self.cwnd = self.ssthresh.wrapping_add(resent);
            self.incr = self.cwnd.wrapping_mul(mss);
        }
        if lost {
            self.ssthresh = (cwnd / 2).max(THRESH_MIN);
            self.cwnd = 1;
            self.incr = mss;
        }
        if self.cwnd < 1 {
            self.cwnd = 1;
            self.incr = mss;
        }
    }
}
