package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
)

// rate is RTC1's load: one peer, reliable messages of -size bytes, at most -window bytes sent
// and not yet echoed; the rate is echoes received per second over -seconds after a warm-up,
// and total counts every echo since the channels opened (warm-up included).
func rate(args []string) {
	fs := flag.NewFlagSet("rate", flag.ExitOnError)
	url := fs.String("url", "", "signalling URL")
	size := fs.Int("size", 100, "message size in bytes")
	seconds := fs.Float64("seconds", 5, "measured seconds")
	warmup := fs.Float64("warmup", 1, "seconds sent before measuring")
	window := fs.Int("window", 1<<20, "bytes sent and not yet echoed, at most")
	_ = fs.Parse(args)
	if *url == "" || *size < 1 || *window < *size {
		log.Fatal("-url is required; -size >= 1; -window >= -size")
	}
	c, err := dial(clientAPI(), *url)
	if err != nil {
		log.Fatal(err)
	}
	defer c.pc.Close()
	if err := c.waitOpen(15 * time.Second); err != nil {
		log.Fatal(err)
	}
	msg := make([]byte, *size)
	for i := range msg {
		msg[i] = byte('a' + i%26)
	}
	var echoed atomic.Int64
	credit := make(chan struct{}, *window / *size)
	c.r.OnMessage(func(m webrtc.DataChannelMessage) {
		if len(m.Data) != *size {
			log.Fatalf("echo of %d bytes, sent %d", len(m.Data), *size)
		}
		echoed.Add(1)
		<-credit
	})
	stop := make(chan struct{})
	var sender sync.WaitGroup
	sender.Add(1)
	go func() {
		defer sender.Done()
		for {
			select {
			case credit <- struct{}{}:
			case <-stop:
				return
			}
			if err := c.r.Send(msg); err != nil {
				log.Fatal(err)
			}
		}
	}()
	time.Sleep(time.Duration(*warmup * float64(time.Second)))
	n0, t0 := echoed.Load(), time.Now()
	time.Sleep(time.Duration(*seconds * float64(time.Second)))
	n1, t1 := echoed.Load(), time.Now()
	close(stop)
	sender.Wait()
	s := t1.Sub(t0).Seconds()
	out, _ := json.Marshal(map[string]any{"messages": n1 - n0, "seconds": s, "rate": float64(n1-n0) / s, "total": echoed.Load()})
	fmt.Println(string(out))
}

// idle is RTC2's load: -peers peers with both channels open, held until stdin closes.
func idle(args []string) {
	fs := flag.NewFlagSet("idle", flag.ExitOnError)
	url := fs.String("url", "", "signalling URL")
	peers := fs.Int("peers", 400, "peers to open")
	_ = fs.Parse(args)
	if *url == "" || *peers < 1 {
		log.Fatal("-url is required; -peers >= 1")
	}
	api := clientAPI()
	clients := make([]*client, 0, *peers)
	for i := 0; i < *peers; i++ {
		c, err := dial(api, *url)
		if err != nil {
			log.Fatalf("peer %d: %v", i, err)
		}
		clients = append(clients, c)
	}
	for i, c := range clients {
		if err := c.waitOpen(30 * time.Second); err != nil {
			log.Fatalf("peer %d: %v", i, err)
		}
	}
	out, _ := json.Marshal(map[string]any{"open": len(clients)})
	fmt.Println(string(out))
	_, _ = bufio.NewReader(os.Stdin).ReadString(0)
	for _, c := range clients {
		c.pc.Close()
	}
}
