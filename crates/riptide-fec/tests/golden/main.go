// Command fec-golden writes test vectors for riptide-fec from kcp-go's own FEC code.
//
// kcp-go's fecEncoder and fecDecoder are unexported; this program reaches them with
// //go:linkname (pointers passed as unsafe.Pointer), so the bytes below come from the exact
// code a kcp-go v5.7 peer runs, not from a re-implementation. Regenerate with
//
//	cd crates/riptide-fec/tests/golden && go run . > vectors.txt
//
// Format (one record a line, fields separated by one space, bytes in lowercase hex, "-"
// for none):
//
//	enc DS PS                 an encoder test: fresh encoders on both sides
//	in GAP_MS HEX             encode this datagram GAP_MS after the previous one
//	out HEX                   ... and expect this packet (data shard, then any parity)
//	oob CONV PAYLOAD PACKET   kcp-go's OOB framing of PAYLOAD for CONV
//	dec DS PS                 a decoder test: a fresh decoder configured DS/PS
//	pkt HEX                   feed this packet
//	rec HEX                   kcp-go's decoder rebuilt this datagram from it
//
// Payloads are deterministic, so the file only changes when kcp-go does. The gaps are
// real: the program sleeps them, since kcp-go's encoder reads the wall clock.
package main

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"time"
	"unsafe"

	_ "github.com/xtaci/kcp-go/v5"
)

//go:linkname newFECEncoder github.com/xtaci/kcp-go/v5.newFECEncoder
func newFECEncoder(dataShards, parityShards, offset int) unsafe.Pointer

//go:linkname fecEncode github.com/xtaci/kcp-go/v5.(*fecEncoder).encode
func fecEncode(enc unsafe.Pointer, b []byte, rto uint32) [][]byte

//go:linkname fecEncodeOOB github.com/xtaci/kcp-go/v5.(*fecEncoder).encodeOOB
func fecEncodeOOB(enc unsafe.Pointer, b []byte)

//go:linkname newFECDecoder github.com/xtaci/kcp-go/v5.newFECDecoder
func newFECDecoder(dataShards, parityShards int) unsafe.Pointer

//go:linkname fecDecode github.com/xtaci/kcp-go/v5.(*fecDecoder).decode
func fecDecode(dec unsafe.Pointer, in []byte) [][]byte

// maxFECEncodeLatency as sess.go passes it to encode.
const rto = 500

const header = 8 // seqid u32 | type u16 | size u16

// rng is a fixed xorshift, so the vectors are reproducible.
type rng uint64

func (r *rng) next() uint64 {
	*r ^= *r << 13
	*r ^= *r >> 7
	*r ^= *r << 17
	return uint64(*r)
}

func payload(r *rng, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.next())
	}
	return b
}

func h(b []byte) string {
	if len(b) == 0 {
		return "-"
	}
	return hex.EncodeToString(b)
}

// encode runs kcp-go's encoder over the datagrams with the given gaps and returns every
// packet it produced, in sending order, after printing the "in"/"out" records.
func encode(ds, ps int, datagrams [][]byte, gaps []int) [][]byte {
	fmt.Printf("enc %d %d\n", ds, ps)
	enc := newFECEncoder(ds, ps, 0)
	var wire [][]byte
	for i, d := range datagrams {
		if gaps[i] > 0 {
			time.Sleep(time.Duration(gaps[i]) * time.Millisecond)
		}
		buf := make([]byte, header+len(d), 1500)
		copy(buf[header:], d)
		parity := fecEncode(enc, buf, rto)
		fmt.Printf("in %d %s\n", gaps[i], h(d))
		fmt.Printf("out %s\n", h(buf))
		wire = append(wire, append([]byte(nil), buf...))
		for _, p := range parity {
			fmt.Printf("out %s\n", h(p))
			wire = append(wire, append([]byte(nil), p...))
		}
	}
	return wire
}

// decode feeds packets to kcp-go's decoder and prints what it rebuilt, the way sess.go
// hands it to KCP (r[2:size]).
func decode(ds, ps int, packets [][]byte) {
	fmt.Printf("dec %d %d\n", ds, ps)
	dec := newFECDecoder(ds, ps)
	for _, p := range packets {
		fmt.Printf("pkt %s\n", h(p))
		for _, r := range fecDecode(dec, append([]byte(nil), p...)) {
			if len(r) < 2 {
				continue
			}
			sz := int(binary.LittleEndian.Uint16(r))
			if sz < 2 || sz > len(r) {
				continue
			}
			fmt.Printf("rec %s\n", h(r[2:sz]))
		}
	}
}

func main() {
	r := rng(0x5eed_fec0_1234_5678)
	sizes := func(n int, pick func(i int) int) [][]byte {
		out := make([][]byte, n)
		for i := range out {
			out[i] = payload(&r, pick(i))
		}
		return out
	}
	noGaps := func(n int) []int { return make([]int, n) }

	// Encoder vectors: kcptun's 10/3, small sets, one parity, the widest useful sets, and
	// lengths from empty to the 1400-byte KCP MTU (so padding matters).
	type config struct{ ds, ps, n int }
	streams := map[[2]int][][]byte{}
	for _, c := range []config{{10, 3, 33}, {3, 2, 12}, {1, 1, 4}, {4, 1, 9}, {2, 5, 6}, {20, 10, 40}} {
		ds := sizes(c.n, func(i int) int {
			switch i % 7 {
			case 0:
				return 24 + int(r.next()%1376) // a KCP datagram: 24-byte header + data
			case 1:
				return 1400
			case 2:
				return 24
			case 3:
				return int(r.next() % 64)
			default:
				return 1 + int(r.next()%700)
			}
		})
		streams[[2]int{c.ds, c.ps}] = encode(c.ds, c.ps, ds, noGaps(c.n))
	}

	// The 500 ms rule: a pause before the last data shard of a set skips its parity; a
	// pause before a set's first data shard does not.
	gapData := sizes(9, func(int) int { return 100 + int(r.next()%200) })
	encode(3, 2, gapData, []int{0, 0, 0, 0, 0, 600, 600, 0, 0})

	// OOB framing.
	enc := newFECEncoder(10, 3, 0)
	for _, n := range []int{0, 1, 100} {
		conv := uint32(r.next())
		p := payload(&r, n)
		buf := make([]byte, header+4+n, 1500)
		binary.LittleEndian.PutUint32(buf[header:], conv)
		copy(buf[header+4:], p)
		fecEncodeOOB(enc, buf)
		fmt.Printf("oob %d %s %s\n", conv, h(p), h(buf))
	}

	// Decoder vectors: the streams above with losses (≤ ps and > ps per set), reordering
	// inside a set, and a decoder configured with other counts than the sender's (auto-tune).
	lose := func(wire [][]byte, drop func(i int) bool) [][]byte {
		var out [][]byte
		for i, p := range wire {
			if !drop(i) {
				out = append(out, p)
			}
		}
		return out
	}
	s103 := streams[[2]int{10, 3}]
	decode(10, 3, lose(s103, func(i int) bool { return i == 0 || i == 5 || i == 12 || i == 14 || i == 15 || i == 16 || i == 27 }))
	// Per set of 13: lose 4 data shards in the second set (unrecoverable).
	decode(10, 3, lose(s103, func(i int) bool { return i >= 13 && i < 26 && i%3 == 0 }))
	s32 := streams[[2]int{3, 2}]
	rev := append([][]byte(nil), s32...)
	for i := 0; i+5 <= len(rev); i += 5 {
		for a, b := i, i+4; a < b; a, b = a+1, b-1 {
			rev[a], rev[b] = rev[b], rev[a]
		}
	}
	decode(3, 2, lose(rev, func(i int) bool { return i%5 == 1 || i%5 == 3 }))
	decode(4, 1, lose(streams[[2]int{4, 1}], func(i int) bool { return i%5 == 2 }))
	decode(20, 10, lose(streams[[2]int{20, 10}], func(i int) bool { return i%3 == 1 }))
	// Auto-tune: a 1/1 decoder (kcp-go's default for a session without FEC) and a 3/2 one
	// receiving 10/3, with losses after the first sets.
	decode(1, 1, lose(s103, func(i int) bool { return i > 26 && i%4 == 0 }))
	decode(3, 2, lose(s103, func(i int) bool { return i > 26 && i%4 == 0 }))
}
