//! The metrics of an engine's reactors as JS objects (`engine.metrics()`): every counter per
//! reactor and per listener, numbers as doubles (exact up to 2^53).

use crate::drive::BoundaryCounts;
use napi_derive::napi;
use riptide::{KcpMetrics, ListenerMetrics, ReactorMetrics};

/// One listener's counters on one reactor.
#[napi(object)]
pub struct NativeListenerMetrics {
    pub accepted: f64,
    pub opened: f64,
    pub closed: f64,
    pub handshake_errors: f64,
    pub bytes_in: f64,
    pub bytes_out: f64,
    pub messages_in: f64,
    pub messages_out: f64,
}

impl From<&ListenerMetrics> for NativeListenerMetrics {
    fn from(l: &ListenerMetrics) -> Self {
        NativeListenerMetrics {
            accepted: l.accepted as f64,
            opened: l.opened as f64,
            closed: l.closed as f64,
            handshake_errors: l.handshake_errors as f64,
            bytes_in: l.bytes_in as f64,
            bytes_out: l.bytes_out as f64,
            messages_in: l.messages_in as f64,
            messages_out: l.messages_out as f64,
        }
    }
}

/// One reactor's KCP SNMP-style counters.
#[napi(object)]
pub struct NativeKcpMetrics {
    pub active_opens: f64,
    pub passive_opens: f64,
    pub closed: f64,
    pub in_pkts: f64,
    pub out_pkts: f64,
    pub in_bytes: f64,
    pub out_bytes: f64,
    pub in_segs: f64,
    pub out_segs: f64,
    pub retrans_segs: f64,
    pub fast_retrans_segs: f64,
    pub in_errs: f64,
}

impl From<&KcpMetrics> for NativeKcpMetrics {
    fn from(k: &KcpMetrics) -> Self {
        NativeKcpMetrics {
            active_opens: k.active_opens as f64,
            passive_opens: k.passive_opens as f64,
            closed: k.closed as f64,
            in_pkts: k.in_pkts as f64,
            out_pkts: k.out_pkts as f64,
            in_bytes: k.in_bytes as f64,
            out_bytes: k.out_bytes as f64,
            in_segs: k.in_segs as f64,
            out_segs: k.out_segs as f64,
            retrans_segs: k.retrans_segs as f64,
            fast_retrans_segs: k.fast_retrans_segs as f64,
            in_errs: k.in_errs as f64,
        }
    }
}

/// One reactor's counters and its driver's boundary counts.
#[napi(object)]
pub struct NativeReactorMetrics {
    pub index: u32,
    pub open: f64,
    pub accepted: f64,
    pub dialed: f64,
    pub closed: f64,
    pub rejected: f64,
    pub accept_errors: f64,
    pub handshake_errors: f64,
    pub bytes_in: f64,
    pub bytes_out: f64,
    pub queued_bytes: f64,
    pub messages_in: f64,
    pub messages_out: f64,
    pub wakes: f64,
    pub js_calls: f64,
    pub events: f64,
    /// Seconds spent in JS calls (handlers and dispatch).
    pub handler_seconds: f64,
    pub kcp: NativeKcpMetrics,
    pub listeners: Vec<NativeListenerMetrics>,
}

impl From<(ReactorMetrics, BoundaryCounts)> for NativeReactorMetrics {
    fn from((m, b): (ReactorMetrics, BoundaryCounts)) -> Self {
        NativeReactorMetrics {
            index: u32::try_from(m.index).unwrap_or(u32::MAX),
            open: m.open as f64,
            accepted: m.accepted as f64,
            dialed: m.dialed as f64,
            closed: m.closed as f64,
            rejected: m.stats.rejected as f64,
            accept_errors: m.stats.accept_errors as f64,
            handshake_errors: m.stats.handshake_errors as f64,
            bytes_in: m.bytes_in as f64,
            bytes_out: m.bytes_out as f64,
            queued_bytes: m.queued_bytes as f64,
            messages_in: m.messages_in as f64,
            messages_out: m.messages_out as f64,
            wakes: b.wakes as f64,
            js_calls: b.js_calls as f64,
            events: b.events as f64,
            handler_seconds: b.handler_nanos as f64 / 1e9,
            kcp: (&m.kcp).into(),
            listeners: m.listeners.iter().map(Into::into).collect(),
        }
    }
}
