//! A large frame arriving in many small reads is reassembled in linear work: the bytes held
//! for a partial frame grow in place instead of being copied again on every read. Measured as
//! bytes allocated (a counting allocator; this file holds one test, so nothing else
//! allocates meanwhile), not as time.

mod common;

use common::{framed, serve};
use riptide::codec::{CodecSpec, LineConfig};
use riptide::{ConnId, Conns, EventHandler};
use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

/// Counts every byte allocated or reallocated.
struct Counting;

static ALLOCATED: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATED.fetch_add(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATED.fetch_add(new_size, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[derive(Clone)]
struct Lengths(mpsc::Sender<usize>);

impl EventHandler for Lengths {
    fn on_traffic(&mut self, _: &mut Conns, _: ConnId, frame: &[u8]) {
        let _ = self.0.send(frame.len());
    }
}

#[test]
fn a_large_frame_in_small_reads_allocates_linearly() {
    let size = 8 << 20;
    let spec = CodecSpec::Line(LineConfig {
        max_length: size,
        ..LineConfig::default()
    });
    let (tx, rx) = mpsc::channel();
    let (addr, stop, server) = serve("tcp://127.0.0.1:0", framed(Arc::new(spec)), Lengths(tx));
    let mut c = TcpStream::connect(addr).unwrap();
    let chunk = vec![b'x'; 4096];
    let before = ALLOCATED.load(Ordering::Relaxed);
    for _ in 0..size / chunk.len() {
        c.write_all(&chunk).unwrap();
        // Small reads on the server: let each chunk arrive on its own, mostly.
        thread::yield_now();
    }
    c.write_all(b"\n").unwrap();
    assert_eq!(rx.recv_timeout(Duration::from_secs(60)).unwrap(), size);
    let allocated = ALLOCATED.load(Ordering::Relaxed) - before;
    // Growing in place allocates about 2× the frame; copying the held bytes on each of
    // ~2,000 reads would allocate thousands of times it.
    assert!(
        allocated < 8 * size,
        "{allocated} bytes allocated for a {size}-byte frame"
    );
    stop.stop();
    server.join().unwrap();
}
