//! What the tunnel reports: a live line on a terminal (streams, bytes, RTT, retransmits, FEC
//! recoveries) and, with `--snmplog`, a CSV row every `--snmpperiod` seconds under kcptun's
//! column names (kcp-go's `DefaultSnmp` fields) where one maps.

use std::fs::OpenOptions;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use riptide::{ConnId, Conns};

/// How often the tunnel looks at its counters.
pub const TICK: Duration = Duration::from_secs(2);

/// The CSV header: kcptun's `Unix` and kcp-go's SNMP names, then `Streams`.
pub const SNMP_HEADER: &str = "Unix,BytesSent,BytesReceived,CurrEstab,InSegs,OutSegs,OutPkts,\
RetransSegs,FastRetransSegs,FECRecovered,FECErrs,FECParityShards,FECShardSet,FECFullShardSet,\
Streams";

/// The counters, and where they go.
#[derive(Debug)]
pub struct Stats {
    quiet: bool,
    live: bool,
    streams: usize,
    bytes_up: u64,
    bytes_down: u64,
    snmplog: Option<PathBuf>,
    period: Duration,
    next_row: Instant,
}

/// Totals over the live KCP sessions.
#[derive(Debug, Default)]
struct Totals {
    sessions: u64,
    srtt_sum: u64,
    in_segs: u64,
    out_segs: u64,
    out_pkts: u64,
    retrans: u64,
    fast_retrans: u64,
    fec: [u64; 5],
}

/// The FEC layer's counters, in [`SNMP_HEADER`]'s order.
const FEC_COUNTERS: [&str; 5] = [
    "fecRecovered",
    "fecErrors",
    "fecParityReceived",
    "fecShardSets",
    "fecFullShardSets",
];

impl Stats {
    /// Counters for a tunnel end: stream lines unless `quiet`, a live line when stderr is a
    /// terminal, CSV rows to `snmplog` every `period`.
    pub fn new(quiet: bool, snmplog: Option<PathBuf>, period: Duration) -> Stats {
        Stats {
            quiet,
            live: std::io::stderr().is_terminal(),
            streams: 0,
            bytes_up: 0,
            bytes_down: 0,
            snmplog,
            period,
            next_row: Instant::now() + period,
        }
    }

    /// A stream opened.
    pub fn stream_opened(&mut self) {
        self.streams = self.streams.saturating_add(1);
        if !self.quiet {
            eprintln!("riptide-tunnel: stream opened ({} open)", self.streams);
        }
    }

    /// A stream closed.
    pub fn stream_closed(&mut self) {
        self.streams = self.streams.saturating_sub(1);
        if !self.quiet {
            eprintln!("riptide-tunnel: stream closed ({} open)", self.streams);
        }
    }

    /// Bytes read from TCP into the tunnel.
    pub fn bytes_up(&mut self, n: usize) {
        self.bytes_up = self.bytes_up.saturating_add(n as u64);
    }

    /// Bytes written from the tunnel to TCP.
    pub fn bytes_down(&mut self, n: usize) {
        self.bytes_down = self.bytes_down.saturating_add(n as u64);
    }

    /// Reads the sessions' counters; prints the live line and writes a CSV row when due.
    pub fn tick(&mut self, conns: &Conns, sessions: &[(ConnId, usize)]) {
        let mut t = Totals::default();
        for &(id, _) in sessions {
            let Ok(k) = conns.kcp_stats(id) else { continue };
            t.sessions += 1;
            t.srtt_sum += u64::try_from(k.srtt).unwrap_or(0);
            t.in_segs += k.in_segments;
            t.out_segs += k.out_segments;
            t.out_pkts += k.out_datagrams;
            t.retrans += k.retransmits;
            t.fast_retrans += k.fast_retransmits;
            for (name, value) in conns.kcp_counters(id).unwrap_or_default() {
                if let Some(i) = FEC_COUNTERS.iter().position(|&n| n == name) {
                    t.fec[i] += value;
                }
            }
        }
        if self.live {
            let rtt = t.srtt_sum.checked_div(t.sessions).unwrap_or(0);
            eprint!(
                "\rstreams {} | up {:.1} MiB down {:.1} MiB | rtt {rtt} ms | retrans {} | fec recovered {}   ",
                self.streams,
                self.bytes_up as f64 / 1_048_576.0,
                self.bytes_down as f64 / 1_048_576.0,
                t.retrans,
                t.fec[0],
            );
        }
        let now = Instant::now();
        if self.snmplog.is_some() && now >= self.next_row {
            self.next_row = now + self.period;
            if let Err(e) = self.write_row(&t) {
                eprintln!("riptide-tunnel: --snmplog: {e}");
            }
        }
    }

    fn write_row(&self, t: &Totals) -> std::io::Result<()> {
        let Some(path) = &self.snmplog else {
            return Ok(());
        };
        let mut file = OpenOptions::new().create(true).append(true).open(path)?;
        if file.metadata()?.len() == 0 {
            writeln!(file, "{SNMP_HEADER}")?;
        }
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let [fec_recovered, fec_errs, fec_parity, fec_sets, fec_full] = t.fec;
        writeln!(
            file,
            "{unix},{},{},{},{},{},{},{},{},{fec_recovered},{fec_errs},{fec_parity},{fec_sets},{fec_full},{}",
            self.bytes_up,
            self.bytes_down,
            t.sessions,
            t.in_segs,
            t.out_segs,
            t.out_pkts,
            t.retrans,
            t.fast_retrans,
            self.streams,
        )
    }
}
