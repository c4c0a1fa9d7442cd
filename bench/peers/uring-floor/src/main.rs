//! The io_uring floor of riptide's benchmarks, beside the C epoll floor
//! (`bench/peers/c-epoll/floor.c`), with the same behaviour: `echo` writes back what it reads;
//! `http` counts "\r\n\r\n" across reads and answers each request with one canned response,
//! the responses of one read in one send.
//!
//! It is the bound of issue 21's io_uring experiment: one thread, multishot accept, multishot
//! recv on a provided-buffer ring, every send of a wake in the same submission, and one
//! `io_uring_enter` per wake (submit and wait). What it saves against the epoll floor's
//! `epoll_wait` + `read` + `write` per event is the most an io_uring backend could save
//! riptide, whose other costs (the boundary, JS) it does not touch.
//!
//!   cargo run --release -- echo 9001

use io_uring::{cqueue, opcode, types, IoUring};
use std::alloc::{alloc_zeroed, Layout};
use std::net::TcpListener;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicU16, Ordering};

const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nServer: c\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";
/// Buffers in the provided-buffer ring (a power of two) and the size of each.
const BUFS: u16 = 512;
const BUF_SIZE: usize = 16 * 1024;
const GROUP: u16 = 0;

/// What a completion is for: the kind in the top byte of `user_data`, the descriptor below.
const ACCEPT: u64 = 1;
const RECV: u64 = 2;
const SEND: u64 = 3;

fn tag(kind: u64, fd: RawFd) -> u64 {
    (kind << 56) | fd as u32 as u64
}

/// The provided-buffer ring: `BUFS` entries the kernel picks from for each multishot recv.
struct BufRing {
    entries: *mut types::BufRingEntry,
    memory: Vec<u8>,
    tail: u16,
}

impl BufRing {
    fn new() -> BufRing {
        let layout = Layout::from_size_align(
            BUFS as usize * std::mem::size_of::<types::BufRingEntry>(),
            4096,
        )
        .expect("layout");
        // SAFETY: a non-zero size; the ring lives as long as the process (never freed).
        let entries = unsafe { alloc_zeroed(layout) }.cast::<types::BufRingEntry>();
        assert!(!entries.is_null(), "out of memory");
        let mut ring = BufRing {
            entries,
            memory: vec![0; BUFS as usize * BUF_SIZE],
            tail: 0,
        };
        for bid in 0..BUFS {
            ring.give(bid);
        }
        ring.publish();
        ring
    }

    /// Puts buffer `bid` back at the tail (seen by the kernel at the next `publish`).
    fn give(&mut self, bid: u16) {
        // SAFETY: the index is masked into the ring's `BUFS` entries.
        let entry = unsafe { &mut *self.entries.add((self.tail & (BUFS - 1)) as usize) };
        entry.set_addr(self.memory.as_ptr() as u64 + bid as u64 * BUF_SIZE as u64);
        entry.set_len(BUF_SIZE as u32);
        entry.set_bid(bid);
        self.tail = self.tail.wrapping_add(1);
    }

    fn publish(&self) {
        // SAFETY: the tail field lies in the first entry, which the ring owns; the kernel reads it.
        let tail = unsafe { &*types::BufRingEntry::tail(self.entries).cast::<AtomicU16>() };
        tail.store(self.tail, Ordering::Release);
    }

    fn buffer(&self, bid: u16, len: usize) -> &[u8] {
        &self.memory[bid as usize * BUF_SIZE..][..len]
    }
}

/// A connection: replies gathered this wake (`out`), and the ones the kernel is sending (`inflight`).
#[derive(Default)]
struct Conn {
    out: Vec<u8>,
    inflight: Vec<u8>,
    sent: usize,
    sending: bool,
    closing: bool,
    /// How much of "\r\n\r\n" the last read ended with.
    matched: u8,
}

/// Counts complete requests in `buf`, carrying the "\r\n\r\n" match across reads.
fn count_requests(matched: &mut u8, buf: &[u8]) -> usize {
    const WANT: [u8; 4] = *b"\r\n\r\n";
    let mut n = 0;
    for &b in buf {
        if b == WANT[*matched as usize] {
            *matched += 1;
            if *matched == 4 {
                n += 1;
                *matched = 0;
            }
        } else {
            *matched = u8::from(b == b'\r');
        }
    }
    n
}

struct Server {
    ring: IoUring,
    bufs: BufRing,
    conns: Vec<Option<Conn>>,
    /// Connections whose `out` gained bytes this wake.
    ready: Vec<RawFd>,
    http: bool,
}

impl Server {
    fn push(&mut self, entry: io_uring::squeue::Entry) {
        // SAFETY: every buffer an entry points at (the recv ring, a connection's `inflight`)
        // stays in place until its completion.
        while unsafe { self.ring.submission().push(&entry) }.is_err() {
            self.ring.submit().expect("io_uring_enter");
        }
    }

    fn recv(&mut self, fd: RawFd) {
        self.push(
            opcode::RecvMulti::new(types::Fd(fd), GROUP)
                .build()
                .user_data(tag(RECV, fd)),
        );
    }

    fn send(&mut self, fd: RawFd) {
        let conn = self.conns[fd as usize].as_mut().expect("open");
        let rest = &conn.inflight[conn.sent..];
        let entry = opcode::Send::new(types::Fd(fd), rest.as_ptr(), rest.len() as u32)
            .build()
            .user_data(tag(SEND, fd));
        conn.sending = true;
        self.push(entry);
    }

    fn close(&mut self, fd: RawFd) {
        let conn = self.conns[fd as usize].as_mut().expect("open");
        if conn.sending {
            conn.closing = true;
            return;
        }
        self.conns[fd as usize] = None;
        // SAFETY: `fd` is a connection this server accepted and has not closed.
        unsafe { libc::close(fd) };
    }

    fn complete(&mut self, user_data: u64, res: i32, flags: u32, listener: RawFd) {
        let fd = (user_data & 0xffff_ffff) as RawFd;
        match user_data >> 56 {
            ACCEPT => {
                if res >= 0 {
                    let one: libc::c_int = 1;
                    // SAFETY: `res` is the accepted socket; the option value outlives the call.
                    unsafe {
                        libc::setsockopt(
                            res,
                            libc::IPPROTO_TCP,
                            libc::TCP_NODELAY,
                            (&one as *const libc::c_int).cast(),
                            4,
                        )
                    };
                    if self.conns.len() <= res as usize {
                        self.conns.resize_with(res as usize + 1, || None);
                    }
                    self.conns[res as usize] = Some(Conn::default());
                    self.recv(res);
                }
                if !cqueue::more(flags) {
                    self.push(
                        opcode::AcceptMulti::new(types::Fd(listener))
                            .build()
                            .user_data(tag(ACCEPT, listener)),
                    );
                }
            }
            RECV => {
                if res > 0 {
                    let bid = cqueue::buffer_select(flags).expect("a provided buffer");
                    let data = self.bufs.buffer(bid, res as usize);
                    let conn = self.conns[fd as usize].as_mut().expect("open");
                    let was_empty = conn.out.is_empty();
                    if self.http {
                        for _ in 0..count_requests(&mut conn.matched, data) {
                            conn.out.extend_from_slice(RESPONSE);
                        }
                    } else {
                        conn.out.extend_from_slice(data);
                    }
                    if was_empty && !conn.out.is_empty() {
                        self.ready.push(fd);
                    }
                    self.bufs.give(bid);
                    if !cqueue::more(flags) {
                        self.recv(fd);
                    }
                } else if res == -libc::ENOBUFS {
                    self.recv(fd);
                } else if !cqueue::more(flags) {
                    self.close(fd);
                }
            }
            SEND => {
                let Some(conn) = self.conns[fd as usize].as_mut() else {
                    return;
                };
                conn.sending = false;
                if res < 0 || conn.closing {
                    self.close(fd);
                    return;
                }
                conn.sent += res as usize;
                if conn.sent < conn.inflight.len() {
                    self.send(fd);
                } else {
                    conn.inflight.clear();
                    conn.sent = 0;
                    if !conn.out.is_empty() {
                        self.ready.push(fd);
                    }
                }
            }
            _ => unreachable!("a completion this server did not ask for"),
        }
    }

    /// Sends what each ready connection gathered, unless a send of it is still in flight.
    fn flush(&mut self) {
        let ready = std::mem::take(&mut self.ready);
        for &fd in &ready {
            let Some(conn) = self.conns[fd as usize].as_mut() else {
                continue;
            };
            if conn.sending || conn.out.is_empty() {
                continue;
            }
            std::mem::swap(&mut conn.out, &mut conn.inflight);
            self.send(fd);
        }
        self.ready = ready;
        self.ready.clear();
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 || (args[1] != "echo" && args[1] != "http") {
        eprintln!("usage: uring-floor echo|http PORT");
        std::process::exit(2);
    }
    let listener =
        TcpListener::bind(("127.0.0.1", args[2].parse::<u16>().expect("a port"))).expect("bind");
    // One issuer, completions run when it waits: the settings an event loop would use.
    let ring = IoUring::builder()
        .setup_single_issuer()
        .setup_defer_taskrun()
        .build(4096)
        .or_else(|_| IoUring::new(4096))
        .expect("io_uring_setup (is io_uring disabled here?)");
    let bufs = BufRing::new();
    // SAFETY: the ring's entries are page-aligned and live as long as the process.
    unsafe {
        ring.submitter()
            .register_buf_ring_with_flags(bufs.entries as u64, BUFS, GROUP, 0)
    }
    .expect("register the buffer ring");
    let mut server = Server {
        ring,
        bufs,
        conns: Vec::new(),
        ready: Vec::new(),
        http: args[1] == "http",
    };
    let lfd = listener.as_raw_fd();
    server.push(
        opcode::AcceptMulti::new(types::Fd(lfd))
            .build()
            .user_data(tag(ACCEPT, lfd)),
    );
    println!("uring-floor {} listening on 127.0.0.1:{}", args[1], args[2]);
    let mut done: Vec<(u64, i32, u32)> = Vec::with_capacity(1024);
    loop {
        server.ring.submit_and_wait(1).expect("io_uring_enter");
        done.extend(
            server
                .ring
                .completion()
                .map(|c| (c.user_data(), c.result(), c.flags())),
        );
        for &(user_data, res, flags) in &done {
            server.complete(user_data, res, flags, lfd);
        }
        done.clear();
        server.bufs.publish();
        server.flush();
    }
}
