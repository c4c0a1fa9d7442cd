package main

import (
	"bytes"
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"

	kcp "github.com/xtaci/kcp-go/v5"
)

// OOB datagrams the client sends: an 8-byte big-endian index, then oobFill bytes of oobByte.
const (
	oobIndexLen = 8
	oobFill     = 56
	oobByte     = 0xAB
	oobLen      = oobIndexLen + oobFill
	// oobWait is how long the client waits for the echoes after its last SendOOB.
	oobWait = 2 * time.Second
	// oobBurst OOB datagrams are sent back to back, then the client pauses 1 ms.
	oobBurst = 32
)

// oobPayload builds datagram i.
func oobPayload(i uint64) []byte {
	p := make([]byte, oobLen)
	binary.BigEndian.PutUint64(p, i)
	for j := oobIndexLen; j < oobLen; j++ {
		p[j] = oobByte
	}
	return p
}

// oobEchoes counts distinct, well-formed echoes of the client's n OOB datagrams.
type oobEchoes struct {
	mu   sync.Mutex
	seen []bool
	got  int
	all  chan struct{} // closed once every datagram has come back
}

func newOOBEchoes(n int) *oobEchoes {
	e := &oobEchoes{seen: make([]bool, n), all: make(chan struct{})}
	if n == 0 {
		close(e.all)
	}
	return e
}

// handle is the session's OOB callback: it runs on kcp-go's input path and must not block.
func (e *oobEchoes) handle(data []byte) {
	if len(data) != oobLen || !bytes.Equal(data[oobIndexLen:], oobPayload(0)[oobIndexLen:]) {
		return
	}
	i := binary.BigEndian.Uint64(data)
	e.mu.Lock()
	defer e.mu.Unlock()
	if i >= uint64(len(e.seen)) || e.seen[i] {
		return
	}
	e.seen[i] = true
	e.got++
	if e.got == len(e.seen) {
		close(e.all)
	}
}

func (e *oobEchoes) count() int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return int64(e.got)
}

// sendOOB sends n OOB datagrams after the main transfer and waits up to oobWait after the
// last one for their echoes; it returns how many distinct echoes arrived.
func sendOOB(s *kcp.UDPSession, e *oobEchoes, n int) (int64, error) {
	for i := 0; i < n; i++ {
		if err := s.SendOOB(oobPayload(uint64(i))); err != nil {
			return e.count(), err
		}
		if (i+1)%oobBurst == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	select {
	case <-e.all:
	case <-time.After(oobWait):
	}
	return e.count(), nil
}

// serveOOB installs the server's OOB handler on a session: it counts every OOB datagram
// and, in echo mode, sends each one straight back as OOB. Sessions without FEC have no OOB.
func serveOOB(s *kcp.UDPSession, echo bool, received *atomic.Int64) {
	_ = s.SetOOBHandler(func(data []byte) {
		received.Add(1)
		if echo {
			// SendOOB copies data and never blocks (it drops when kcp-go's queue is full).
			_ = s.SendOOB(data)
		}
	})
}
