package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"time"

	kcp "github.com/xtaci/kcp-go/v5"
)

// clientResult is the JSON line the client prints on success.
type clientResult struct {
	OK          bool    `json:"ok"`
	Bytes       int64   `json:"bytes"`
	Seconds     float64 `json:"seconds"`
	GoodputMbps float64 `json:"goodput_mbps"`
	RTTms       int32   `json:"rtt_ms"`
	Conv        uint32  `json:"conv"`
	// OOBReceived is how many of the --oob datagrams came back (only with --oob).
	OOBReceived *int64 `json:"oob_received,omitempty"`
	// Snmp is kcp-go's process-wide counters (kcp.DefaultSnmp) at the end.
	Snmp *kcp.Snmp `json:"snmp"`
}

// clientFailure is the JSON line the client prints on failure.
type clientFailure struct {
	OK    bool   `json:"ok"`
	Error string `json:"error"`
}

func runClient(args []string) int {
	fs := flag.NewFlagSet("client", flag.ExitOnError)
	addr := fs.String("addr", "", "server UDP address (required)")
	mode := fs.String("mode", "echo", "echo: check the echoed stream is byte-identical; "+
		"bulk: send to a sink server and measure goodput")
	total := fs.Int64("bytes", 1<<20, "bytes to send")
	size := fs.Int("size", 1024, "bytes per write")
	conv := fs.Uint64("conv", 0, "KCP conversation id (0 = random)")
	seed := fs.Uint64("seed", 1, "seed for the random payload")
	timeout := fs.Float64("timeout", 60, "give up after this many seconds")
	oob := fs.Int("oob", 0, "after the transfer, send this many out-of-band datagrams (needs FEC) "+
		"and count the echoes that come back within 2 s")
	var k knobs
	k.register(fs)
	var w wire
	w.register(fs)
	_ = fs.Parse(args)
	switch {
	case *addr == "":
		return usageError("--addr is required")
	case *mode != "echo" && *mode != "bulk":
		return usageError(fmt.Sprintf("--mode must be echo or bulk, not %q", *mode))
	case *total <= 0 || *size <= 0:
		return usageError("--bytes and --size must be positive")
	case *conv > 0xffffffff:
		return usageError("--conv must fit in 32 bits")
	case *oob < 0:
		return usageError("--oob must not be negative")
	case *oob > 0 && !w.fec():
		return usageError("--oob needs FEC (--ds and --ps > 0): kcp-go sends OOB only with FEC")
	case fs.NArg() != 0:
		return usageError(fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	}
	if err := w.check(); err != nil {
		return usageError(err.Error())
	}
	block, err := w.block()
	if err != nil {
		return fail(err)
	}

	s, err := dial(*addr, uint32(*conv), block, w.dataShards, w.parityShards)
	if err == nil {
		err = k.apply(s)
	}
	if err != nil {
		return fail(err)
	}
	defer s.Close()
	var echoes *oobEchoes
	if *oob > 0 {
		echoes = newOOBEchoes(*oob)
		if err := s.SetOOBHandler(echoes.handle); err != nil {
			return fail(err)
		}
	}
	s.SetDeadline(time.Now().Add(time.Duration(*timeout * float64(time.Second))))

	rng := rand.New(rand.NewChaCha8(seedBytes(*seed)))
	start := time.Now()
	if *mode == "echo" {
		err = echo(s, rng, *total, *size)
	} else {
		err = bulk(s, rng, *total, *size)
	}
	elapsed := time.Since(start).Seconds()
	if err != nil {
		return fail(err)
	}
	result := clientResult{
		OK:          true,
		Bytes:       *total,
		Seconds:     elapsed,
		GoodputMbps: float64(*total) * 8 / elapsed / 1e6,
		RTTms:       s.GetSRTT(),
		Conv:        s.GetConv(),
	}
	if echoes != nil {
		got, err := sendOOB(s, echoes, *oob)
		if err != nil {
			return fail(fmt.Errorf("SendOOB: %w", err))
		}
		result.OOBReceived = &got
	}
	result.Snmp = kcp.DefaultSnmp.Copy()
	printJSON(result)
	return 0
}

// dial opens a session with the given cipher (nil: none) and FEC shards (0/0: none);
// conv 0 lets kcp-go pick a random conversation id.
func dial(addr string, conv uint32, block kcp.BlockCrypt, ds, ps int) (*kcp.UDPSession, error) {
	if conv == 0 {
		return kcp.DialWithOptions(addr, block, ds, ps)
	}
	raddr, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, err
	}
	conn, err := net.ListenUDP("udp", nil)
	if err != nil {
		return nil, err
	}
	return kcp.NewConn4(conv, raddr, block, ds, ps, true, conn)
}

// writeRandom sends total bytes in writes of size random bytes and returns their sha256.
func writeRandom(s *kcp.UDPSession, rng *rand.Rand, total int64, size int) ([]byte, error) {
	h := sha256.New()
	chunk := make([]byte, size)
	for left := total; left > 0; {
		n := int64(size)
		if left < n {
			n = left
		}
		for i := range chunk[:n] {
			chunk[i] = byte(rng.Uint32())
		}
		h.Write(chunk[:n])
		if _, err := s.Write(chunk[:n]); err != nil {
			return nil, fmt.Errorf("write: %w", err)
		}
		left -= n
	}
	return h.Sum(nil), nil
}

// echo writes total random bytes and checks the echoed stream hashes the same.
func echo(s *kcp.UDPSession, rng *rand.Rand, total int64, size int) error {
	sent := make(chan []byte, 1)
	writeErr := make(chan error, 1)
	go func() {
		sum, err := writeRandom(s, rng, total, size)
		writeErr <- err
		sent <- sum
	}()

	h := sha256.New()
	buf := make([]byte, 64*1024)
	for got := int64(0); got < total; {
		n, err := s.Read(buf)
		if err != nil {
			return fmt.Errorf("read after %d of %d echoed bytes: %w", got, total, err)
		}
		if got+int64(n) > total {
			return fmt.Errorf("echo returned %d bytes, more than the %d sent", got+int64(n), total)
		}
		h.Write(buf[:n])
		got += int64(n)
	}
	if err := <-writeErr; err != nil {
		return err
	}
	if want, have := <-sent, h.Sum(nil); !bytes.Equal(want, have) {
		return fmt.Errorf("echoed stream differs: sha256 sent %x, received %x", want, have)
	}
	return nil
}

// bulk writes total random bytes to a sink and waits until its running total reaches them.
func bulk(s *kcp.UDPSession, rng *rand.Rand, total int64, size int) error {
	writeErr := make(chan error, 1)
	go func() {
		_, err := writeRandom(s, rng, total, size)
		writeErr <- err
	}()
	var ack [8]byte
	for {
		if _, err := io.ReadFull(s, ack[:]); err != nil {
			select {
			case werr := <-writeErr:
				if werr != nil {
					return werr
				}
			default:
			}
			return fmt.Errorf("waiting for the sink's acknowledgement: %w", err)
		}
		got := int64(binary.BigEndian.Uint64(ack[:]))
		if got == total {
			return <-writeErr
		}
		if got > total {
			return errors.New("sink reports more bytes than were sent")
		}
	}
}

func seedBytes(seed uint64) [32]byte {
	var b [32]byte
	binary.LittleEndian.PutUint64(b[:], seed)
	return b
}

func usageError(msg string) int {
	fmt.Fprintf(os.Stderr, "kcpgo-peer client: %s\n", msg)
	return 2
}

func fail(err error) int {
	printJSON(clientFailure{OK: false, Error: err.Error()})
	return 1
}
