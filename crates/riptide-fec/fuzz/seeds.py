#!/usr/bin/env python3
"""Writes the seed inputs of the `decoder` fuzz target (layout: riptide_fec::fuzzing::decoder)
into fuzz/corpus/decoder/ and tests/regressions/decoder/. Run from crates/riptide-fec."""
import os
import struct


def u16(v): return struct.pack('<H', v)
def u32(v): return struct.pack('<I', v)


def shaped(seqsel, kind, size, body, seq=None):
    return (bytes([1, seqsel]) + (u32(seq) if seqsel >= 5 else b'') + bytes([kind])
            + u16(size) + u16(body))


def raw(pkt): return bytes([0]) + u16(len(pkt)) + pkt
def send(n, gap=0): return bytes([2 | (gap << 2)]) + u16(n)


def deliver(pick, drop=False, dup=False):
    return bytes([3 | (4 if drop else 0) | (8 if dup else 0), pick & 0xff])


def hdr(seq, kind, size): return u32(seq) + u16(kind) + u16(size)


seeds = {}
# 10/3 decoder; headers from boundary numbers: seqid 0, paws-1, paws, 0xFFFFFFFF,
# paws-(ds+ps), 0x7FFFFFFF; size 0, 1, 2, 0xFFFF and consistent; every type.
b = bytes([9, 2])
for sel in range(6):
    for kind in range(4):
        for size in (0, 1, 2, 3, 4):
            b += shaped(sel, kind, size, 1 if size != 4 else 40, seq=0x7fffffff)
seeds['seed-boundaries.bin'] = b
# Raw: 0..8 bytes, size 0/1/2/0xFFFF, seqid 0xFFFFFFFF on data, OOB short/empty/fine/wrong
# seqid, parity of 1501 and 1500 bytes, an unknown type.
b = bytes([2, 1])
for n in range(9):
    b += raw(bytes([0xf1] * n))
for size in (0, 1, 2, 0xffff):
    b += raw(hdr(0, 0xf1, size) + b'abc')
b += raw(hdr(0xffffffff, 0xf1, 5) + b'abc')
b += raw(hdr(0xffffffff, 0xf3, 6) + u32(7))
b += raw(hdr(0xffffffff, 0xf3, 10) + u32(7) + b'ping')
b += raw(hdr(0, 0xf3, 10) + u32(7) + b'ping')
b += raw(hdr(0xffffffff, 0xf3, 6))
b += raw(hdr(3, 0xf2, 0) + bytes(1493))
b += raw(hdr(3, 0xf2, 0) + bytes(1492))
b += raw(hdr(5, 0xf4, 2))
seeds['seed-raw.bin'] = b
# A clean 3/2 stream with losses, duplicates and reordering; lengths 0..1492.
b = bytes([2, 1])
for i in range(40):
    b += send([0, 1, 24, 700, 1400, 1492, 33][i % 7])
    if i % 3 == 2:
        for k in range(5):
            b += deliver(k * 7, drop=(k == 1), dup=(k == 3))
for k in range(80):
    b += deliver(k * 5, drop=(k % 9 == 0), dup=(k % 11 == 0))
seeds['seed-clean-3-2.bin'] = b
# 10/3 with 504 ms pauses (the 500 ms rule).
b = bytes([9, 2])
for i in range(60):
    b += send(100 + i, gap=63 if i % 10 == 9 else 0)
    b += deliver(0, drop=(i % 4 == 0))
seeds['seed-pauses.bin'] = b
b = bytes([0, 0])
for i in range(30):
    b += send(10 + i) + deliver(1) + deliver(0, drop=(i % 2 == 0))
seeds['seed-1-1.bin'] = b
b = bytes([15, 7])
for i in range(100):
    b += send(200 + i * 3) + deliver(i, drop=(i % 5 == 0))
seeds['seed-16-8.bin'] = b
# Auto-tune: decoder 10/3, sender 3/2; then garbage.
b = bytes([9, 2 | 16, 2 | (1 << 4)])
for i in range(200):
    b += send(50 + i % 90) + deliver(0, drop=(i > 120 and i % 4 == 0))
b += shaped(1, 0, 4, 10) + shaped(3, 1, 4, 10)
seeds['seed-autotune.bin'] = b
# Auto-tune to a wide set with the limit raised: decoder 1/1, sender 16/8.
b = bytes([0, 8 | 16, 15 | (7 << 4)])
for i in range(300):
    b += send(20) + deliver(0)
seeds['seed-autotune-wide.bin'] = b

for d in ('fuzz/corpus/decoder', 'tests/regressions/decoder'):
    os.makedirs(d, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(d, name), 'wb') as f:
            f.write(data)
