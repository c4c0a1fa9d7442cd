package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
)

// echo serves riptide's signalling on TCP -port and every peer's data on one UDP socket on
// the same port (ICE-lite, pion's UDP mux), echoing both channels.
func echo(args []string) {
	fs := flag.NewFlagSet("echo", flag.ExitOnError)
	port := fs.Int("port", 9208, "TCP (signalling) and UDP (data) port on 127.0.0.1")
	_ = fs.Parse(args)
	udp, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: *port})
	if err != nil {
		log.Fatal(err)
	}
	se := webrtc.SettingEngine{}
	se.SetLite(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetICEUDPMux(webrtc.NewICEUDPMux(nil, udp))
	se.SetIncludeLoopbackCandidate(true)
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	api := webrtc.NewAPI(webrtc.WithSettingEngine(se))

	http.HandleFunc("/.rtc/offer", func(w http.ResponseWriter, req *http.Request) {
		var offer webrtc.SessionDescription
		if err := json.NewDecoder(io.LimitReader(req.Body, 64<<10)).Decode(&offer); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		answer, err := accept(api, offer)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(answer)
	})
	ln, err := net.Listen("tcp4", fmt.Sprintf("127.0.0.1:%d", *port))
	if err != nil {
		log.Fatal(err)
	}
	out, _ := json.Marshal(map[string]any{"listen": ln.Addr().String()})
	fmt.Println(string(out))
	log.Fatal(http.Serve(ln, nil))
}

// accept answers one offer with a peer that echoes on both channels and closes when ICE fails.
func accept(api *webrtc.API, offer webrtc.SessionDescription) (*webrtc.SessionDescription, error) {
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	u, r, err := channels(pc)
	if err != nil {
		pc.Close()
		return nil, err
	}
	u.OnMessage(func(m webrtc.DataChannelMessage) { _ = u.Send(m.Data) })
	r.OnMessage(func(m webrtc.DataChannelMessage) { _ = r.Send(m.Data) })
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateFailed || s == webrtc.PeerConnectionStateClosed || s == webrtc.PeerConnectionStateDisconnected {
			pc.Close()
		}
	})
	if err := pc.SetRemoteDescription(offer); err != nil {
		pc.Close()
		return nil, err
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		pc.Close()
		return nil, err
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(answer); err != nil {
		pc.Close()
		return nil, err
	}
	<-gathered
	return pc.LocalDescription(), nil
}
