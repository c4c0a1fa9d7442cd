package main

import (
	"flag"
	"fmt"

	kcp "github.com/xtaci/kcp-go/v5"
)

// knobs are the KCP tuning parameters, with ikcp.c's defaults.
type knobs struct {
	nodelay, interval, resend, nc int
	sndwnd, rcvwnd, mtu           int
	stream, ackNoDelay            bool
}

func (k *knobs) register(fs *flag.FlagSet) {
	fs.IntVar(&k.nodelay, "nodelay", 0, "ikcp_nodelay: 1 enables nodelay mode (RTO min 30 ms, no RTO doubling)")
	fs.IntVar(&k.interval, "interval", 40, "ikcp_nodelay: internal update interval in ms")
	fs.IntVar(&k.resend, "resend", 0, "ikcp_nodelay: fast retransmit after this many duplicate ACKs (0 = off)")
	fs.IntVar(&k.nc, "nc", 0, "ikcp_nodelay: 1 disables congestion control")
	fs.IntVar(&k.sndwnd, "sndwnd", 32, "send window in segments")
	fs.IntVar(&k.rcvwnd, "rcvwnd", 32, "receive window in segments")
	fs.IntVar(&k.mtu, "mtu", 1400, "MTU in bytes (KCP header included)")
	fs.BoolVar(&k.stream, "stream", false, "KCP stream mode (coalesce writes into full segments)")
	fs.BoolVar(&k.ackNoDelay, "acknodelay", false, "flush ACKs immediately instead of on the next update")
}

// apply configures a session: plain KCP, writes flushed at once.
func (k *knobs) apply(s *kcp.UDPSession) error {
	s.SetNoDelay(k.nodelay, k.interval, k.resend, k.nc)
	s.SetWindowSize(k.sndwnd, k.rcvwnd)
	if !s.SetMtu(k.mtu) {
		return fmt.Errorf("invalid --mtu %d", k.mtu)
	}
	s.SetStreamMode(k.stream)
	s.SetWriteDelay(false)
	s.SetACKNoDelay(k.ackNoDelay)
	return nil
}
