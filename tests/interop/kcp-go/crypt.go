package main

import (
	"crypto/sha1"
	"flag"
	"fmt"

	kcp "github.com/xtaci/kcp-go/v5"
	"golang.org/x/crypto/pbkdf2"
)

// kcptunSalt is kcptun's PBKDF2 salt (SALT in kcptun's client/main.go and server/main.go).
const kcptunSalt = "kcp-go"

// kcptunDefaultKey is kcptun's default --key.
const kcptunDefaultKey = "it's a secrect"

// wire selects what kcp-go puts around the KCP segments: the block cipher (--crypt, --key)
// and Reed-Solomon FEC (--ds, --ps). The defaults (null, 0/0) give bare KCP segments.
type wire struct {
	crypt, key   string
	dataShards   int
	parityShards int
}

func (w *wire) register(fs *flag.FlagSet) {
	fs.StringVar(&w.crypt, "crypt", "null", "kcptun cipher name: null, none, aes, aes-128, aes-192, "+
		"salsa20, xor, aes-128-gcm (also sm4, tea, xtea, blowfish, twofish, cast5, 3des)")
	fs.StringVar(&w.key, "key", kcptunDefaultKey, "pre-shared secret; the key is "+
		"pbkdf2-sha1(secret, \"kcp-go\", 4096 rounds, 32 bytes) truncated per cipher, as kcptun does")
	fs.IntVar(&w.dataShards, "ds", 0, "FEC data shards (FEC is on only when --ds and --ps are both > 0)")
	fs.IntVar(&w.parityShards, "ps", 0, "FEC parity shards")
}

// check validates the flags; the error is a usage error.
func (w *wire) check() error {
	if w.dataShards < 0 || w.parityShards < 0 {
		return fmt.Errorf("--ds and --ps must not be negative")
	}
	if w.dataShards+w.parityShards > 256 {
		return fmt.Errorf("--ds + --ps must be at most 256")
	}
	if _, ok := cipherKeyLength[w.crypt]; !ok {
		return fmt.Errorf("unknown --crypt %q", w.crypt)
	}
	return nil
}

// fec reports whether kcp-go will use FEC (and so allow OOB) with these shard counts.
func (w *wire) fec() bool { return w.dataShards > 0 && w.parityShards > 0 }

// cipherKeyLength is how many bytes of the 32-byte derived key each kcptun cipher takes
// (kcptun std/crypt.go SelectBlockCrypt); 0 means the cipher takes none.
var cipherKeyLength = map[string]int{
	"null":        0,
	"none":        32, // NewNoneBlockCrypt ignores its key
	"aes":         32, // AES-256
	"aes-128":     16,
	"aes-192":     24,
	"salsa20":     32,
	"xor":         32, // NewSimpleXORBlockCrypt expands it again with its own PBKDF2
	"aes-128-gcm": 16,
	"sm4":         16,
	"tea":         16,
	"xtea":        16,
	"blowfish":    32,
	"twofish":     32,
	"cast5":       16,
	"3des":        24,
}

// deriveKey is kcptun's key derivation: pbkdf2.Key(pass, "kcp-go", 4096, 32, sha1.New).
func deriveKey(pass string) []byte {
	return pbkdf2.Key([]byte(pass), []byte(kcptunSalt), 4096, 32, sha1.New)
}

// block builds the kcp.BlockCrypt for --crypt and --key; nil for "null".
func (w *wire) block() (kcp.BlockCrypt, error) {
	n, ok := cipherKeyLength[w.crypt]
	if !ok {
		return nil, fmt.Errorf("unknown --crypt %q", w.crypt)
	}
	if n == 0 {
		return nil, nil
	}
	key := deriveKey(w.key)[:n]
	switch w.crypt {
	case "none":
		return kcp.NewNoneBlockCrypt(key)
	case "aes", "aes-128", "aes-192":
		return kcp.NewAESBlockCrypt(key)
	case "salsa20":
		return kcp.NewSalsa20BlockCrypt(key)
	case "xor":
		return kcp.NewSimpleXORBlockCrypt(key)
	case "aes-128-gcm":
		// kcp-go v5.7: AES-GCM through its AEAD wrapper (12-byte random nonce, 16-byte tag).
		return kcp.NewAESGCMCrypt(key)
	case "sm4":
		return kcp.NewSM4BlockCrypt(key)
	case "tea":
		return kcp.NewTEABlockCrypt(key)
	case "xtea":
		return kcp.NewXTEABlockCrypt(key)
	case "blowfish":
		return kcp.NewBlowfishBlockCrypt(key)
	case "twofish":
		return kcp.NewTwofishBlockCrypt(key)
	case "cast5":
		return kcp.NewCast5BlockCrypt(key)
	case "3des":
		return kcp.NewTripleDESBlockCrypt(key)
	}
	return nil, fmt.Errorf("unknown --crypt %q", w.crypt)
}
