// Command webrtc-peer is riptide-webrtc's independent peer for the interop test: a pion/webrtc
// v4 client that offers over riptide's one-round-trip signalling (POST {type, sdp} → answer),
// opens the two pre-negotiated channels (id 0 "u": unordered, no retransmits; id 1 "r":
// reliable, ordered), and has the server echo -n messages on each.
//
//	webrtc-peer -url http://127.0.0.1:9208/.rtc/offer [-n 10000]
//	webrtc-peer -mode offer          # print one offer body and exit (peers that never run ICE)
//	webrtc-peer -url … -mode room -expect 1   # print {"open":true}, then the reliable
//	                                          # messages as {"room":[…]} once -expect arrived
//
// It prints one JSON line of results. It exits 1 when a reliable echo is missing, out of
// order or altered, or an unreliable echo is altered or duplicated; unreliable loss is
// reported, not failed on.
package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
)

// payload is message seq of a run: its big-endian seq, then a size and filler that
// depend on seq, so every echo can be checked byte for byte.
func payload(tag byte, seq uint32) []byte {
	size := 5 + int(seq*7919%1200)
	b := make([]byte, size)
	b[0] = tag
	binary.BigEndian.PutUint32(b[1:5], seq)
	for i := 5; i < size; i++ {
		b[i] = byte(uint32(i)*31 + seq)
	}
	return b
}

type result struct {
	ReliableSent        int     `json:"reliable_sent"`
	ReliableReceived    int     `json:"reliable_received"`
	ReliableInOrder     bool    `json:"reliable_in_order_and_exact"`
	UnreliableSent      int     `json:"unreliable_sent"`
	UnreliableReceived  int     `json:"unreliable_received"`
	UnreliableLossPct   float64 `json:"unreliable_loss_pct"`
	UnreliableCorrupt   int     `json:"unreliable_corrupt"`
	UnreliableDuplicate int     `json:"unreliable_duplicates"`
	MaxMessageSize      uint32  `json:"max_message_size"`
	Seconds             float64 `json:"seconds"`
}

func main() {
	url := flag.String("url", "", "signalling URL (POST the offer here)")
	n := flag.Int("n", 10000, "messages per channel")
	mode := flag.String("mode", "echo", "echo, offer (print an offer body and exit) or room (await -expect messages)")
	expect := flag.Int("expect", 1, "room mode: reliable messages to await")
	flag.Parse()
	if *url == "" && *mode != "offer" {
		log.Fatal("-url is required")
	}
	start := time.Now()

	se := webrtc.SettingEngine{}
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	api := webrtc.NewAPI(webrtc.WithSettingEngine(se))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		log.Fatal(err)
	}
	defer pc.Close()

	yes, no := true, false
	var zero uint16
	idU, idR := uint16(0), uint16(1)
	u, err := pc.CreateDataChannel("u", &webrtc.DataChannelInit{Negotiated: &yes, ID: &idU, Ordered: &no, MaxRetransmits: &zero})
	if err != nil {
		log.Fatal(err)
	}
	r, err := pc.CreateDataChannel("r", &webrtc.DataChannelInit{Negotiated: &yes, ID: &idR, Ordered: &yes})
	if err != nil {
		log.Fatal(err)
	}
	var opened sync.WaitGroup
	opened.Add(2)
	u.OnOpen(opened.Done)
	r.OnOpen(opened.Done)

	var mu sync.Mutex
	var rGot, uGot, uCorrupt, uDup int
	inOrder := true
	uSeen := make(map[uint32]bool)
	rDone := make(chan struct{})
	var room []string
	r.OnMessage(func(m webrtc.DataChannelMessage) {
		mu.Lock()
		defer mu.Unlock()
		if *mode == "room" {
			room = append(room, string(m.Data))
			if len(room) == *expect {
				close(rDone)
			}
			return
		}
		if !bytes.Equal(m.Data, payload('r', uint32(rGot))) {
			inOrder = false
		}
		rGot++
		if rGot == *n {
			close(rDone)
		}
	})
	uLast := time.Now()
	u.OnMessage(func(m webrtc.DataChannelMessage) {
		mu.Lock()
		defer mu.Unlock()
		uLast = time.Now()
		if len(m.Data) < 5 {
			uCorrupt++
			return
		}
		seq := binary.BigEndian.Uint32(m.Data[1:5])
		if !bytes.Equal(m.Data, payload('u', seq)) {
			uCorrupt++
			return
		}
		if uSeen[seq] {
			uDup++
			return
		}
		uSeen[seq] = true
		uGot++
	})

	offer, err := pc.CreateOffer(nil)
	if err != nil {
		log.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		log.Fatal(err)
	}
	<-gathered
	body, _ := json.Marshal(pc.LocalDescription())
	if *mode == "offer" {
		fmt.Println(string(body))
		return
	}
	resp, err := http.Post(*url, "application/json", bytes.NewReader(body))
	if err != nil {
		log.Fatal(err)
	}
	var answer webrtc.SessionDescription
	if resp.StatusCode != http.StatusOK {
		log.Fatalf("signalling answered %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	if err := pc.SetRemoteDescription(answer); err != nil {
		log.Fatal(err)
	}
	waitOpen := make(chan struct{})
	go func() { opened.Wait(); close(waitOpen) }()
	select {
	case <-waitOpen:
	case <-time.After(15 * time.Second):
		log.Fatal("channels did not open within 15 s")
	}
	if *mode == "room" {
		fmt.Println(`{"open":true}`)
		select {
		case <-rDone:
		case <-time.After(30 * time.Second):
			log.Fatal("room messages did not arrive within 30 s")
		}
		mu.Lock()
		out, _ := json.Marshal(map[string][]string{"room": room})
		mu.Unlock()
		fmt.Println(string(out))
		return
	}

	// Flow control: keep at most 1 MiB queued in pion per channel.
	const high, low = 1 << 20, 256 << 10
	drained := func(dc *webrtc.DataChannel) chan struct{} {
		ch := make(chan struct{}, 1)
		dc.SetBufferedAmountLowThreshold(low)
		dc.OnBufferedAmountLow(func() {
			select {
			case ch <- struct{}{}:
			default:
			}
		})
		return ch
	}
	rLow, uLow := drained(r), drained(u)

	for i := 0; i < *n; i++ {
		for r.BufferedAmount() > high {
			select {
			case <-rLow:
			case <-time.After(100 * time.Millisecond):
			}
		}
		if err := r.Send(payload('r', uint32(i))); err != nil {
			log.Fatal(err)
		}
	}
	select {
	case <-rDone:
	case <-time.After(60 * time.Second):
	}

	for i := 0; i < *n; i++ {
		for u.BufferedAmount() > high {
			select {
			case <-uLow:
			case <-time.After(100 * time.Millisecond):
			}
		}
		if err := u.Send(payload('u', uint32(i))); err != nil {
			log.Fatal(err)
		}
		if i%100 == 99 {
			time.Sleep(time.Millisecond)
		}
	}
	// Unreliable echoes still in flight: wait for 1 s of silence (at most 10 s).
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		mu.Lock()
		quiet := time.Since(uLast) > time.Second
		done := uGot == *n
		mu.Unlock()
		if quiet || done {
			break
		}
	}

	mu.Lock()
	res := result{
		ReliableSent:        *n,
		ReliableReceived:    rGot,
		ReliableInOrder:     inOrder && rGot == *n,
		UnreliableSent:      *n,
		UnreliableReceived:  uGot,
		UnreliableLossPct:   100 * float64(*n-uGot) / float64(*n),
		UnreliableCorrupt:   uCorrupt,
		UnreliableDuplicate: uDup,
		Seconds:             time.Since(start).Seconds(),
	}
	mu.Unlock()
	if sctp := pc.SCTP(); sctp != nil {
		res.MaxMessageSize = uint32(sctp.GetCapabilities().MaxMessageSize)
	}
	out, _ := json.Marshal(res)
	fmt.Println(string(out))
	if !res.ReliableInOrder || res.UnreliableCorrupt > 0 || res.UnreliableDuplicate > 0 {
		os.Exit(1)
	}
}
