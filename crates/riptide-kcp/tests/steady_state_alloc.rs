//! After warm-up, a session exchanging messages allocates nothing: payload buffers come
//! from the pool, queues and the outbox reuse their capacity.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use riptide_kcp::{Config, Kcp};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static TRACK: Cell<bool> = const { Cell::new(false) };
}

// SAFETY: forwards to the system allocator; only counts calls made while tracking.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if TRACK.with(Cell::get) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if TRACK.with(Cell::get) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn pump(from: &mut Kcp, to: &mut Kcp, now: u32, buf: &mut [u8], drop_every: u32, n: &mut u32) {
    while let Some(len) = from.poll_transmit(now, buf) {
        *n += 1;
        if !n.is_multiple_of(drop_every) {
            to.input(now, &buf[..len]).unwrap();
        }
    }
}

#[test]
fn no_allocation_per_packet_in_steady_state() {
    let config = Config {
        nodelay: 1,
        interval: 10,
        resend: 2,
        nc: true,
        ..Config::default()
    };
    let mut a = Kcp::new(1, &config).unwrap();
    let mut b = Kcp::new(1, &config).unwrap();
    let message: Vec<u8> = (0..3000).map(|i| i as u8).collect();
    let mut buf = vec![0u8; 1500];
    let mut out = vec![0u8; a.max_message()];
    let mut now = 0u32;
    let mut datagrams = 0u32;
    let mut round = |a: &mut Kcp, b: &mut Kcp, now: &mut u32, n: &mut u32| -> usize {
        // Two messages (three segments each) per 10 ms, one datagram in 7 lost.
        for _ in 0..2 {
            let _ = a.send(&message);
        }
        a.handle_timeout(*now);
        pump(a, b, *now, &mut buf, 7, n);
        b.handle_timeout(*now);
        pump(b, a, *now, &mut buf, 7, n);
        let mut received = 0;
        while let Ok(len) = b.recv(&mut out) {
            assert_eq!(len, message.len());
            received += 1;
        }
        *now += 10;
        received
    };
    for _ in 0..500 {
        round(&mut a, &mut b, &mut now, &mut datagrams);
    }
    let mut received = 0;
    TRACK.with(|t| t.set(true));
    for _ in 0..1000 {
        received += round(&mut a, &mut b, &mut now, &mut datagrams);
    }
    TRACK.with(|t| t.set(false));
    let allocations = ALLOCATIONS.load(Ordering::Relaxed);
    assert!(received > 1000, "traffic flowed: {received} messages");
    assert!(
        a.stats().retransmits + a.stats().fast_retransmits > 0,
        "with loss"
    );
    assert_eq!(allocations, 0, "allocations in steady state");
}
