// The gnet v2 peer of riptide's benchmarks: one event loop (GOMAXPROCS=1), an echo server and
// a minimal HTTP/1.1 responder (counts "\r\n\r\n", writes one canned response per request in
// one write per read), the shape gnet-benchmarks and TechEmpower's gnet entry use.
//
//	go build -o gnet-peer . && ./gnet-peer -mode echo -port 9001
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"os"
	"runtime"

	"github.com/panjf2000/gnet/v2"
)

var response = []byte("HTTP/1.1 200 OK\r\nServer: gnet\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!")

var crlf2 = []byte("\r\n\r\n")

type server struct {
	gnet.BuiltinEventEngine
	http bool
	out  []byte
}

func (s *server) OnBoot(eng gnet.Engine) gnet.Action {
	fmt.Println("gnet listening")
	return gnet.None
}

func (s *server) OnTraffic(c gnet.Conn) gnet.Action {
	buf, _ := c.Peek(-1)
	if !s.http {
		_, _ = c.Write(buf)
		_, _ = c.Discard(len(buf))
		return gnet.None
	}
	n, consumed := 0, 0
	for {
		i := bytes.Index(buf[consumed:], crlf2)
		if i < 0 {
			break
		}
		consumed += i + 4
		n++
	}
	if n == 0 {
		return gnet.None
	}
	s.out = s.out[:0]
	for ; n > 0; n-- {
		s.out = append(s.out, response...)
	}
	_, _ = c.Discard(consumed)
	_, _ = c.Write(s.out)
	return gnet.None
}

func main() {
	mode := flag.String("mode", "echo", "echo or http")
	port := flag.Int("port", 9001, "TCP port on 127.0.0.1")
	flag.Parse()
	if *mode != "echo" && *mode != "http" {
		fmt.Fprintln(os.Stderr, "-mode must be echo or http")
		os.Exit(2)
	}
	runtime.GOMAXPROCS(1)
	s := &server{http: *mode == "http"}
	err := gnet.Run(s, fmt.Sprintf("tcp://127.0.0.1:%d", *port),
		gnet.WithMulticore(false), gnet.WithNumEventLoop(1), gnet.WithTCPNoDelay(gnet.TCPNoDelay), gnet.WithReusePort(false))
	if err != nil {
		log.Fatal(err)
	}
}
