package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
)

// channels opens riptide's two pre-negotiated channels on pc: id 0 "u" (unordered, no
// retransmits) and id 1 "r" (reliable, ordered).
func channels(pc *webrtc.PeerConnection) (u, r *webrtc.DataChannel, err error) {
	yes, no := true, false
	var zero uint16
	idU, idR := uint16(0), uint16(1)
	if u, err = pc.CreateDataChannel("u", &webrtc.DataChannelInit{Negotiated: &yes, ID: &idU, Ordered: &no, MaxRetransmits: &zero}); err != nil {
		return nil, nil, err
	}
	r, err = pc.CreateDataChannel("r", &webrtc.DataChannelInit{Negotiated: &yes, ID: &idR, Ordered: &yes})
	return u, r, err
}

// client is one load-generating peer with its channels.
type client struct {
	pc   *webrtc.PeerConnection
	u, r *webrtc.DataChannel
	open chan struct{}
}

// clientAPI is a pion API for clients on loopback: UDP4, host candidates including loopback,
// no mDNS.
func clientAPI() *webrtc.API {
	se := webrtc.SettingEngine{}
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	return webrtc.NewAPI(webrtc.WithSettingEngine(se))
}

// dial offers to the signalling URL and returns once the answer is applied; c.open closes when
// both channels are open.
func dial(api *webrtc.API, url string) (*client, error) {
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	u, r, err := channels(pc)
	if err != nil {
		pc.Close()
		return nil, err
	}
	c := &client{pc: pc, u: u, r: r, open: make(chan struct{})}
	opened := make(chan struct{}, 2)
	u.OnOpen(func() { opened <- struct{}{} })
	r.OnOpen(func() { opened <- struct{}{} })
	go func() {
		<-opened
		<-opened
		close(c.open)
	}()
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		pc.Close()
		return nil, err
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		pc.Close()
		return nil, err
	}
	<-gathered
	body, _ := json.Marshal(pc.LocalDescription())
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		pc.Close()
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		pc.Close()
		return nil, fmt.Errorf("signalling answered %s", resp.Status)
	}
	var answer webrtc.SessionDescription
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
		pc.Close()
		return nil, err
	}
	if err := pc.SetRemoteDescription(answer); err != nil {
		pc.Close()
		return nil, err
	}
	return c, nil
}

// waitOpen waits for both channels, at most d.
func (c *client) waitOpen(d time.Duration) error {
	select {
	case <-c.open:
		return nil
	case <-time.After(d):
		return fmt.Errorf("channels did not open within %s", d)
	}
}
