// Command kcptun-peer is a kcptun stand-in for riptide-tunnel's interop test: the same
// stack as kcptun's client and server (kcp-go with kcptun's key derivation, cipher choice,
// FEC and session settings; smux v1 or v2; snappy framing unless -nocomp), built from the
// Go module proxy rather than from kcptun's own repository.
//
//	kcptun-peer server -l 127.0.0.1:29900 -t 127.0.0.1:8080 [flags]
//	kcptun-peer client -l 127.0.0.1:12948 -r 127.0.0.1:29900 [flags]
//
// Each prints "ready" once it listens.
package main

import (
	"crypto/pbkdf2"
	"crypto/sha1"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"sync"
	"time"

	"github.com/golang/snappy"
	kcp "github.com/xtaci/kcp-go/v5"
	"github.com/xtaci/smux"
)

// options are kcptun's flags that matter on the wire, with kcptun's defaults.
type options struct {
	local, remote, key, crypt, mode      string
	mtu, sndwnd, rcvwnd, ds, ps          int
	nodelay, interval, resend, nc        int
	smuxver, smuxbuf, streambuf, keepalv int
	nocomp                               bool
}

func parse(role string, args []string) *options {
	o := &options{}
	fs := flag.NewFlagSet(role, flag.ExitOnError)
	fs.StringVar(&o.local, "l", "127.0.0.1:0", "listen address (TCP for client, UDP for server)")
	fs.StringVar(&o.remote, "r", "", "client: server UDP address; server: target TCP address")
	fs.StringVar(&o.remote, "t", "", "server: target TCP address (same as -r)")
	fs.StringVar(&o.key, "key", "it's a secrect", "pre-shared secret")
	fs.StringVar(&o.crypt, "crypt", "aes", "aes, aes-128, aes-192, salsa20, xor, none, null")
	fs.StringVar(&o.mode, "mode", "fast", "normal, fast, fast2, fast3, manual")
	fs.IntVar(&o.mtu, "mtu", 1350, "")
	fs.IntVar(&o.sndwnd, "sndwnd", 128, "")
	fs.IntVar(&o.rcvwnd, "rcvwnd", 512, "")
	fs.IntVar(&o.ds, "ds", 10, "")
	fs.IntVar(&o.ps, "ps", 3, "")
	fs.IntVar(&o.nodelay, "nodelay", 0, "")
	fs.IntVar(&o.interval, "interval", 50, "")
	fs.IntVar(&o.resend, "resend", 0, "")
	fs.IntVar(&o.nc, "nc", 0, "")
	fs.IntVar(&o.smuxver, "smuxver", 1, "")
	fs.IntVar(&o.smuxbuf, "smuxbuf", 4194304, "")
	fs.IntVar(&o.streambuf, "streambuf", 2097152, "")
	fs.IntVar(&o.keepalv, "keepalive", 10, "")
	fs.BoolVar(&o.nocomp, "nocomp", false, "")
	fs.Parse(args)
	switch o.mode {
	case "normal":
		o.nodelay, o.interval, o.resend, o.nc = 0, 40, 2, 1
	case "fast":
		o.nodelay, o.interval, o.resend, o.nc = 0, 30, 2, 1
	case "fast2":
		o.nodelay, o.interval, o.resend, o.nc = 1, 20, 2, 1
	case "fast3":
		o.nodelay, o.interval, o.resend, o.nc = 1, 10, 2, 1
	}
	return o
}

// block is kcptun's cipher selection on its PBKDF2-derived key.
func (o *options) block() kcp.BlockCrypt {
	pass, err := pbkdf2.Key(sha1.New, o.key, []byte("kcp-go"), 4096, 32)
	check(err)
	var b kcp.BlockCrypt
	switch o.crypt {
	case "null":
		return nil
	case "none":
		b, err = kcp.NewNoneBlockCrypt(pass)
	case "xor":
		b, err = kcp.NewSimpleXORBlockCrypt(pass)
	case "aes-128":
		b, err = kcp.NewAESBlockCrypt(pass[:16])
	case "aes-192":
		b, err = kcp.NewAESBlockCrypt(pass[:24])
	case "salsa20":
		b, err = kcp.NewSalsa20BlockCrypt(pass)
	case "aes":
		b, err = kcp.NewAESBlockCrypt(pass)
	default:
		log.Fatalf("unknown -crypt %q", o.crypt)
	}
	check(err)
	return b
}

// tune applies kcptun's per-session settings.
func (o *options) tune(s *kcp.UDPSession) {
	s.SetStreamMode(true)
	s.SetWriteDelay(false)
	s.SetNoDelay(o.nodelay, o.interval, o.resend, o.nc)
	s.SetWindowSize(o.sndwnd, o.rcvwnd)
	s.SetMtu(o.mtu)
	s.SetACKNoDelay(false)
}

func (o *options) smux() *smux.Config {
	c := smux.DefaultConfig()
	c.Version = o.smuxver
	c.MaxReceiveBuffer = o.smuxbuf
	c.MaxStreamBuffer = o.streambuf
	c.KeepAliveInterval = time.Duration(o.keepalv) * time.Second
	check(smux.VerifyConfig(c))
	return c
}

// compStream is kcptun's compression: snappy framing, flushed after every write.
type compStream struct {
	conn net.Conn
	w    *snappy.Writer
	r    *snappy.Reader
}

func (c *compStream) Read(p []byte) (int, error) { return c.r.Read(p) }

func (c *compStream) Write(p []byte) (int, error) {
	if _, err := c.w.Write(p); err != nil {
		return 0, err
	}
	return len(p), c.w.Flush()
}

func (c *compStream) Close() error { return c.conn.Close() }

func (o *options) wrap(conn net.Conn) io.ReadWriteCloser {
	if o.nocomp {
		return conn
	}
	return &compStream{conn: conn, w: snappy.NewBufferedWriter(conn), r: snappy.NewReader(conn)}
}

// pipe copies both ways and closes both ends when either direction ends, as kcptun does.
func pipe(a, b io.ReadWriteCloser) {
	var once sync.Once
	done := make(chan struct{})
	cp := func(dst io.Writer, src io.Reader) {
		io.Copy(dst, src)
		once.Do(func() { close(done) })
	}
	go cp(a, b)
	go cp(b, a)
	<-done
	a.Close()
	b.Close()
}

func client(o *options) {
	ln, err := net.Listen("tcp", o.local)
	check(err)
	block := o.block()
	var sess *smux.Session
	dial := func() *smux.Session {
		conn, err := kcp.DialWithOptions(o.remote, block, o.ds, o.ps)
		check(err)
		o.tune(conn)
		s, err := smux.Client(o.wrap(conn), o.smux())
		check(err)
		return s
	}
	sess = dial()
	fmt.Println("ready", ln.Addr())
	for {
		c, err := ln.Accept()
		check(err)
		if sess.IsClosed() {
			sess = dial()
		}
		go func(c net.Conn, s *smux.Session) {
			st, err := s.OpenStream()
			if err != nil {
				c.Close()
				return
			}
			pipe(c, st)
		}(c, sess)
	}
}

func server(o *options) {
	ln, err := kcp.ListenWithOptions(o.local, o.block(), o.ds, o.ps)
	check(err)
	fmt.Println("ready", ln.Addr())
	for {
		conn, err := ln.AcceptKCP()
		check(err)
		o.tune(conn)
		go func() {
			s, err := smux.Server(o.wrap(conn), o.smux())
			if err != nil {
				return
			}
			defer s.Close()
			for {
				st, err := s.AcceptStream()
				if err != nil {
					return
				}
				go func() {
					t, err := net.Dial("tcp", o.remote)
					if err != nil {
						st.Close()
						return
					}
					pipe(t, st)
				}()
			}
		}()
	}
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

func main() {
	if len(os.Args) < 2 {
		log.Fatal("usage: kcptun-peer client|server [flags]")
	}
	o := parse(os.Args[1], os.Args[2:])
	switch os.Args[1] {
	case "client":
		client(o)
	case "server":
		server(o)
	default:
		log.Fatalf("unknown role %q", os.Args[1])
	}
}
