// Command smux-peer is the xtaci/smux side of riptide-smux's interop test: an echo server or
// a checking client over plain TCP, smux v1 or v2, with or without kcptun's snappy framing.
//
//	smux-peer server -listen 127.0.0.1:0 -ver 2 -comp   (prints "listening ADDR")
//	smux-peer client -addr ADDR -ver 1 -streams 20 -size 262144
package main

import (
	"bytes"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"sync"

	"github.com/golang/snappy"
	"github.com/xtaci/smux"
)

// compStream is kcptun's compression wrapper: snappy framing, flushed after every write.
type compStream struct {
	conn net.Conn
	w    *snappy.Writer
	r    *snappy.Reader
}

func newCompStream(conn net.Conn) *compStream {
	return &compStream{conn: conn, w: snappy.NewBufferedWriter(conn), r: snappy.NewReader(conn)}
}

func (c *compStream) Read(p []byte) (int, error) { return c.r.Read(p) }

func (c *compStream) Write(p []byte) (int, error) {
	if _, err := c.w.Write(p); err != nil {
		return 0, err
	}
	if err := c.w.Flush(); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (c *compStream) Close() error { return c.conn.Close() }

func wrap(conn net.Conn, comp bool) io.ReadWriteCloser {
	if comp {
		return newCompStream(conn)
	}
	return conn
}

func config(ver int) *smux.Config {
	c := smux.DefaultConfig()
	c.Version = ver
	return c
}

func main() {
	if len(os.Args) < 2 {
		log.Fatal("usage: smux-peer server|client [flags]")
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:0", "server: address to listen on")
	addr := fs.String("addr", "", "client: server address")
	ver := fs.Int("ver", 1, "smux version")
	comp := fs.Bool("comp", false, "snappy framing, as kcptun without -nocomp")
	streams := fs.Int("streams", 20, "client: parallel streams")
	size := fs.Int("size", 262144, "client: bytes per stream")
	if err := fs.Parse(os.Args[2:]); err != nil {
		log.Fatal(err)
	}
	switch os.Args[1] {
	case "server":
		serve(*listen, *ver, *comp)
	case "client":
		if err := run(*addr, *ver, *comp, *streams, *size); err != nil {
			log.Fatal(err)
		}
		fmt.Println("ok")
	default:
		log.Fatalf("unknown mode %q", os.Args[1])
	}
}

// serve echoes every stream of one session until the peer's FIN, then closes it.
func serve(listen string, ver int, comp bool) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening %s\n", ln.Addr())
	conn, err := ln.Accept()
	if err != nil {
		log.Fatal(err)
	}
	sess, err := smux.Server(wrap(conn, comp), config(ver))
	if err != nil {
		log.Fatal(err)
	}
	for {
		st, err := sess.AcceptStream()
		if err != nil {
			return // the client closed the session
		}
		go func() {
			defer st.Close()
			io.Copy(st, st)
		}()
	}
}

// run opens streams in parallel, sends each its own random bytes, half-closes, and checks that
// the echo is byte-exact.
func run(addr string, ver int, comp bool, streams, size int) error {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	sess, err := smux.Client(wrap(conn, comp), config(ver))
	if err != nil {
		return err
	}
	defer sess.Close()
	var wg sync.WaitGroup
	errs := make(chan error, streams)
	for i := 0; i < streams; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs <- echoOne(sess, size, i)
		}(i)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

func echoOne(sess *smux.Session, size, i int) error {
	st, err := sess.OpenStream()
	if err != nil {
		return err
	}
	defer st.Close()
	sent := make([]byte, size)
	rand.Read(sent)
	werr := make(chan error, 1)
	go func() {
		_, err := st.Write(sent)
		if err == nil {
			err = st.CloseWrite()
		}
		werr <- err
	}()
	got, err := io.ReadAll(st)
	if err != nil {
		return fmt.Errorf("stream %d: read: %w", i, err)
	}
	if err := <-werr; err != nil {
		return fmt.Errorf("stream %d: write: %w", i, err)
	}
	if !bytes.Equal(got, sent) {
		return fmt.Errorf("stream %d: echo differs (%d bytes back of %d)", i, len(got), size)
	}
	return nil
}
