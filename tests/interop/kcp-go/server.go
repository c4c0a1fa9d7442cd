package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	kcp "github.com/xtaci/kcp-go/v5"
)

// serverStats is the line printed when the server stops.
type serverStats struct {
	Sessions int64 `json:"sessions"`
	Bytes    int64 `json:"bytes"`
	// OOBReceived counts OOB datagrams delivered to the sessions' handlers (FEC only).
	OOBReceived int64 `json:"oob_received"`
	// Snmp is kcp-go's process-wide counters (kcp.DefaultSnmp) at the end.
	Snmp *kcp.Snmp `json:"snmp"`
}

func runServer(args []string) int {
	fs := flag.NewFlagSet("server", flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:0", "UDP address to listen on")
	mode := fs.String("mode", "echo", "echo: write back every byte; sink: count bytes and "+
		"answer each read with the 8-byte big-endian total received so far")
	idle := fs.Float64("idle", 30, "close a session after this many seconds without data")
	var k knobs
	k.register(fs)
	var w wire
	w.register(fs)
	_ = fs.Parse(args)
	if *mode != "echo" && *mode != "sink" {
		fmt.Fprintf(os.Stderr, "kcpgo-peer server: --mode must be echo or sink, not %q\n", *mode)
		return 2
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(os.Stderr, "kcpgo-peer server: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if err := w.check(); err != nil {
		fmt.Fprintf(os.Stderr, "kcpgo-peer server: %v\n", err)
		return 2
	}
	block, err := w.block()
	if err != nil {
		fmt.Fprintf(os.Stderr, "kcpgo-peer server: %v\n", err)
		return 1
	}

	// By default (--crypt null, --ds 0 --ps 0): bare KCP segments, as ikcp.c sends them.
	l, err := kcp.ListenWithOptions(*listen, block, w.dataShards, w.parityShards)
	if err != nil {
		fmt.Fprintf(os.Stderr, "kcpgo-peer server: %v\n", err)
		return 1
	}
	printJSON(map[string]string{"listen": l.Addr().String()})

	var sessions, total, oobReceived atomic.Int64
	var wg sync.WaitGroup
	idleFor := time.Duration(*idle * float64(time.Second))
	go func() {
		for {
			s, err := l.AcceptKCP()
			if err != nil {
				return
			}
			if err := k.apply(s); err != nil {
				fmt.Fprintf(os.Stderr, "kcpgo-peer server: %v\n", err)
				s.Close()
				continue
			}
			sessions.Add(1)
			if w.fec() {
				serveOOB(s, *mode == "echo", &oobReceived)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				serve(s, *mode, idleFor, &total)
			}()
		}
	}()

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
	l.Close()
	printJSON(serverStats{
		Sessions:    sessions.Load(),
		Bytes:       total.Load(),
		OOBReceived: oobReceived.Load(),
		Snmp:        kcp.DefaultSnmp.Copy(),
	})
	return 0
}

// serve runs one session until it errors or stays idle for idleFor.
func serve(s *kcp.UDPSession, mode string, idleFor time.Duration, total *atomic.Int64) {
	defer s.Close()
	buf := make([]byte, 64*1024)
	var received uint64
	var ack [8]byte
	for {
		s.SetDeadline(time.Now().Add(idleFor))
		n, err := s.Read(buf)
		if err != nil {
			return
		}
		total.Add(int64(n))
		if mode == "echo" {
			if _, err := s.Write(buf[:n]); err != nil {
				return
			}
			continue
		}
		received += uint64(n)
		binary.BigEndian.PutUint64(ack[:], received)
		if _, err := s.Write(ack[:]); err != nil {
			return
		}
	}
}
