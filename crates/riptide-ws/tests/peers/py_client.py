"""A client on Python's `websockets`, the peer for tests/interop.rs's server tests.

argv: url, `deflate` or `plain`. Sends text and binary messages of 1 B to 16 MiB, whole and
fragmented, checks each echo byte for byte, checks the subprotocol, pings, then closes with
4002 "done". Exits 0 when all went right, 1 with the reason otherwise.
"""
import sys

from websockets.sync.client import connect


def text(size):
    # 1- to 4-byte characters, 10 bytes a round, so fragments cut characters apart.
    return "aé☃𝄞" * (size // 10) + "a" * (size % 10)


def binary(size):
    return bytes((i * 31 + 7) & 255 for i in range(size))


def main():
    url, mode = sys.argv[1], sys.argv[2]
    compression = "deflate" if mode == "deflate" else None
    with connect(url, subprotocols=["chat"], compression=compression, max_size=None) as ws:
        if ws.subprotocol != "chat":
            sys.exit(f"subprotocol {ws.subprotocol}")
        for size in [1, 125, 126, 65535, 65536, 1 << 20, 16 << 20]:
            for data in (text(size), binary(size)):
                for fragmented in (False, True):
                    if fragmented:
                        third = len(data) // 3
                        ws.send([data[:third], data[third:2 * third], data[2 * third:]])
                    else:
                        ws.send(data)
                    if ws.recv() != data:
                        sys.exit(f"echo differs for {type(data).__name__} of {size}")
        if not ws.ping(b"probe").wait(30):
            sys.exit("no pong")
        ws.close(4002, "done")


main()
