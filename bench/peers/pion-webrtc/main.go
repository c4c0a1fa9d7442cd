// Command pion-webrtc is the WebRTC side of riptide's benchmark (RTC1, RTC2), built on
// pion/webrtc v4 from the Go module proxy, so neither end of a comparison is ours:
//
//	pion-webrtc echo -port P
//	    a pion echo server speaking riptide's one-round-trip signalling (POST {type, sdp} to
//	    /.rtc/offer → answer) on TCP P and its data on one UDP port P (ICE-lite, one UDP mux,
//	    like riptide's one socket); it echoes on both pre-negotiated channels. RTC1's pion row.
//	pion-webrtc rate -url U [-size 100] [-seconds 5] [-window 1048576]
//	    one peer sending reliable messages of -size bytes as fast as the server echoes them
//	    (at most -window bytes unanswered); prints {"messages", "seconds", "rate", "total"}
//	    (RTC1; total includes the warm-up's echoes).
//	pion-webrtc idle -url U [-peers 400]
//	    opens -peers peers, prints {"open": N} once every channel is open, and holds them until
//	    stdin closes (RTC2: the runner reads the server's memory meanwhile).
//
// Every command prints one JSON line on stdout; errors go to stderr with exit status 1.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: pion-webrtc echo|rate|idle [flags]")
		os.Exit(2)
	}
	args := os.Args[2:]
	switch os.Args[1] {
	case "echo":
		echo(args)
	case "rate":
		rate(args)
	case "idle":
		idle(args)
	default:
		fmt.Fprintf(os.Stderr, "unknown command %q\n", os.Args[1])
		os.Exit(2)
	}
}
