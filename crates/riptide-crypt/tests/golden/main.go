// Golden vectors for riptide-crypt, made and checked by unmodified kcp-go (see go.mod).
//
//	go run . gen    > vectors.json   kcp-go seals; riptide must open (tests/golden.rs)
//	go run . verify rust.json        kcp-go opens what riptide sealed; exit 1 on any mismatch
//
// Two sources of packets, in both directions:
//   - "vectors": kcp-go's exported BlockCrypt constructors, framed the way sess.go frames a
//     datagram (nonce, CRC-32, cipher; or nonce and AEAD), over many plaintext lengths.
//   - "sessions": real kcp-go UDPSessions on loopback: gen captures the first datagram a
//     session sends; verify sends riptide's datagram to a session and reads the message.
//
// Keys come from a passphrase the way kcptun derives and truncates them.
package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"net"
	"os"
	"time"

	kcp "github.com/xtaci/kcp-go/v5"
	"golang.org/x/crypto/pbkdf2"
)

const kcpGoVersion = "v5.7.6" // keep in step with go.mod

// The ciphers riptide-crypt implements, by kcptun name.
var ciphers = []string{"null", "none", "aes-128", "aes-192", "aes", "salsa20", "xor", "aes-128-gcm"}

// Plaintext lengths: around the 16-byte CFB block (after the 20-byte header), the 8-byte
// salsa20 offset, the 1472-byte xor pad, and typical MTUs.
var lengths = []int{0, 1, 2, 7, 8, 11, 12, 13, 15, 16, 17, 27, 28, 29, 31, 32, 33, 44, 45, 100,
	127, 128, 129, 255, 256, 1326, 1376, 1380, 1451, 1452, 1453, 1472, 1500}

type Vector struct {
	Cipher string `json:"cipher"`
	Plain  string `json:"plain"`
	Packet string `json:"packet"`
}

type Session struct {
	Cipher  string `json:"cipher"`
	Conv    uint32 `json:"conv"`
	Payload string `json:"payload"`
	Packet  string `json:"packet"`
}

type KeyCheck struct {
	Pass string `json:"pass"`
	Key  string `json:"key"`
}

type File struct {
	Comment    string     `json:"comment,omitempty"`
	KcpGo      string     `json:"kcp_go,omitempty"`
	Pass       string     `json:"pass"`
	KcptunKeys []KeyCheck `json:"kcptun_keys,omitempty"`
	Vectors    []Vector   `json:"vectors"`
	Sessions   []Session  `json:"sessions"`
}

// kcptunKey is kcptun's derivation of the 32-byte key from --key.
func kcptunKey(pass string) []byte {
	return pbkdf2.Key([]byte(pass), []byte("kcp-go"), 4096, 32, sha1.New)
}

// newBlock builds the BlockCrypt kcptun would for (method, pass); nil for "null".
func newBlock(method, pass string) kcp.BlockCrypt {
	key := kcptunKey(pass)
	var b kcp.BlockCrypt
	var err error
	switch method {
	case "null":
		return nil
	case "none":
		b, err = kcp.NewNoneBlockCrypt(key)
	case "aes-128":
		b, err = kcp.NewAESBlockCrypt(key[:16])
	case "aes-192":
		b, err = kcp.NewAESBlockCrypt(key[:24])
	case "aes":
		b, err = kcp.NewAESBlockCrypt(key)
	case "salsa20":
		b, err = kcp.NewSalsa20BlockCrypt(key)
	case "xor":
		b, err = kcp.NewSimpleXORBlockCrypt(key)
	case "aes-128-gcm":
		b, err = kcp.NewAESGCMCrypt(key[:16])
	default:
		err = fmt.Errorf("unknown cipher %q", method)
	}
	if err != nil {
		panic(err)
	}
	return b
}

// aead is the exported method set of kcp-go's (unexported) AEAD BlockCrypt.
type aead interface {
	Seal(dst, nonce, plaintext, additionalData []byte) []byte
	Open(dst, nonce, ciphertext, additionalData []byte) ([]byte, error)
	NonceSize() int
	Overhead() int
}

const nonceSize, crcSize = 16, 4

// seal frames plain as UDPSession.output does (sess.go, "Stage 2: Encryption").
func seal(block kcp.BlockCrypt, plain []byte) []byte {
	switch b := block.(type) {
	case nil:
		return append([]byte(nil), plain...)
	case aead:
		n := b.NonceSize()
		buf := make([]byte, n+len(plain), n+len(plain)+b.Overhead())
		copy(buf[n:], plain)
		rand.Read(buf[:n])
		return b.Seal(buf[:n], buf[:n], buf[n:], nil)
	default:
		buf := make([]byte, nonceSize+crcSize+len(plain))
		copy(buf[nonceSize+crcSize:], plain)
		rand.Read(buf[:nonceSize])
		binary.LittleEndian.PutUint32(buf[nonceSize:], crc32.ChecksumIEEE(buf[nonceSize+crcSize:]))
		b.Encrypt(buf, buf)
		return buf
	}
}

// open checks and decrypts as UDPSession.packetInput does.
func open(block kcp.BlockCrypt, packet []byte) ([]byte, error) {
	data := append([]byte(nil), packet...)
	switch b := block.(type) {
	case nil:
		return data, nil
	case aead:
		n := b.NonceSize()
		if len(data) < n+b.Overhead() {
			return nil, fmt.Errorf("short packet")
		}
		return b.Open(data[n:n], data[:n], data[n:], nil)
	default:
		if len(data) < nonceSize+crcSize {
			return nil, fmt.Errorf("short packet")
		}
		b.Decrypt(data, data)
		data = data[nonceSize:]
		if crc32.ChecksumIEEE(data[crcSize:]) != binary.LittleEndian.Uint32(data) {
			return nil, fmt.Errorf("crc mismatch")
		}
		return data[crcSize:], nil
	}
}

func pattern(n, seed int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i*7 + seed*13 + 1)
	}
	return p
}

func loopback() *net.UDPConn {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		panic(err)
	}
	return c
}

// capture runs a real kcp-go session that writes payload and returns its first datagram.
func capture(method, pass string, conv uint32, payload []byte) []byte {
	sink := loopback()
	defer sink.Close()
	sess, err := kcp.NewConn4(conv, sink.LocalAddr(), newBlock(method, pass), 0, 0, true, loopback())
	if err != nil {
		panic(err)
	}
	defer sess.Close()
	if _, err := sess.Write(payload); err != nil {
		panic(err)
	}
	buf := make([]byte, 2048)
	sink.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _, err := sink.ReadFrom(buf)
	if err != nil {
		panic(fmt.Sprintf("%s: no datagram from kcp-go: %v", method, err))
	}
	return buf[:n]
}

// deliver sends packet to a real kcp-go session and returns the message it reads.
func deliver(method, pass string, conv uint32, packet []byte, want int) ([]byte, error) {
	peer := loopback()
	defer peer.Close()
	sess, err := kcp.NewConn4(conv, peer.LocalAddr(), newBlock(method, pass), 0, 0, true, loopback())
	if err != nil {
		return nil, err
	}
	defer sess.Close()
	if _, err := peer.WriteTo(packet, sess.LocalAddr()); err != nil {
		return nil, err
	}
	sess.SetReadDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, want+1)
	n, err := sess.Read(buf)
	return buf[:n], err
}

func gen() {
	const pass = "riptide-golden"
	f := File{
		Comment: "Made by tests/golden/main.go (go run . gen) with unmodified kcp-go; do not edit.",
		KcpGo:   kcpGoVersion,
		Pass:    pass,
	}
	for _, p := range []string{pass, "", "it's a secrect", "pässwörd 🔑", string(bytes.Repeat([]byte("long"), 40))} {
		f.KcptunKeys = append(f.KcptunKeys, KeyCheck{p, hex.EncodeToString(kcptunKey(p))})
	}
	for ci, method := range ciphers {
		block := newBlock(method, pass)
		for _, n := range lengths {
			plain := pattern(n, ci)
			f.Vectors = append(f.Vectors, Vector{method, hex.EncodeToString(plain), hex.EncodeToString(seal(block, plain))})
		}
		conv := 0x5eed0000 + uint32(ci)
		payload := []byte("hello from kcp-go over " + method)
		f.Sessions = append(f.Sessions, Session{method, conv, hex.EncodeToString(payload),
			hex.EncodeToString(capture(method, pass, conv, payload))})
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", " ")
	if err := enc.Encode(f); err != nil {
		panic(err)
	}
}

func unhex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func verify(path string) {
	raw, err := os.ReadFile(path)
	if err != nil {
		panic(err)
	}
	var f File
	if err := json.Unmarshal(raw, &f); err != nil {
		panic(err)
	}
	bad, count := 0, map[string]int{}
	for i, v := range f.Vectors {
		got, err := open(newBlock(v.Cipher, f.Pass), unhex(v.Packet))
		if err != nil || !bytes.Equal(got, unhex(v.Plain)) {
			fmt.Fprintf(os.Stderr, "vector %d (%s, %d-byte plain): kcp-go cannot open it: %v\n", i, v.Cipher, len(v.Plain)/2, err)
			bad++
			continue
		}
		count[v.Cipher]++
	}
	for _, s := range f.Sessions {
		want := unhex(s.Payload)
		got, err := deliver(s.Cipher, f.Pass, s.Conv, unhex(s.Packet), len(want))
		if err != nil || !bytes.Equal(got, want) {
			fmt.Fprintf(os.Stderr, "session %s: kcp-go read %q, %v; want %q\n", s.Cipher, got, err, want)
			bad++
			continue
		}
		count[s.Cipher+" session"]++
	}
	fmt.Printf("kcp-go %s opened: %v\n", kcpGoVersion, count)
	if bad > 0 || len(f.Vectors) == 0 || len(f.Sessions) == 0 {
		fmt.Fprintf(os.Stderr, "%d failures\n", bad)
		os.Exit(1)
	}
}

func main() {
	switch {
	case len(os.Args) == 2 && os.Args[1] == "gen":
		gen()
	case len(os.Args) == 3 && os.Args[1] == "verify":
		verify(os.Args[2])
	default:
		fmt.Fprintln(os.Stderr, "usage: golden gen | golden verify FILE")
		os.Exit(2)
	}
}
