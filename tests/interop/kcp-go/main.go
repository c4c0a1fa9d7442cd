// Command kcpgo-peer is a KCP peer built on github.com/xtaci/kcp-go/v5, used to check that
// riptide's KCP interoperates with the Go implementation. By default it speaks plain KCP
// segments on the wire (no block cipher, no FEC), the same bytes an ikcp.c peer sends;
// --crypt/--key select one of kcptun's ciphers, --ds/--ps kcp-go's Reed-Solomon FEC, and
// the client's --oob exercises kcp-go's out-of-band datagrams.
//
// Usage:
//
//	kcpgo-peer server --listen 127.0.0.1:0 --mode echo|sink [kcp knobs] [wire flags]
//	kcpgo-peer client --addr 127.0.0.1:PORT --mode echo|bulk --bytes N --size S [--oob N]
//	                  [kcp knobs] [wire flags]
//
// See README.md for the flags and the JSON lines each subcommand prints.
package main

import (
	"encoding/json"
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var code int
	switch os.Args[1] {
	case "server":
		code = runServer(os.Args[2:])
	case "client":
		code = runClient(os.Args[2:])
	case "-h", "--help", "help":
		usage()
	default:
		fmt.Fprintf(os.Stderr, "kcpgo-peer: unknown subcommand %q\n", os.Args[1])
		usage()
	}
	os.Exit(code)
}

func usage() {
	fmt.Fprint(os.Stderr, `usage:
  kcpgo-peer server --listen 127.0.0.1:0 --mode echo|sink [knobs] [wire] [--idle SECS]
  kcpgo-peer client --addr 127.0.0.1:PORT --mode echo|bulk --bytes N --size S
                    [--conv N] [--seed N] [--timeout SECS] [--oob N] [knobs] [wire]
knobs: --nodelay 0 --interval 40 --resend 0 --nc 0 --sndwnd 32 --rcvwnd 32 --mtu 1400
       [--stream] [--acknodelay]
wire:  --crypt null|none|aes|aes-128|aes-192|salsa20|xor|aes-128-gcm|... --key PASS
       --ds 0 --ps 0
Run "kcpgo-peer server -h" or "kcpgo-peer client -h" for details.
`)
	os.Exit(2)
}

// printJSON writes v as one line of JSON on stdout.
func printJSON(v any) {
	line, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	fmt.Println(string(line))
}
