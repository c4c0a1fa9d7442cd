#!/usr/bin/env python3
"""Writes the seed inputs of the `tls` fuzz target (layout: riptide::fuzzing::tls) into
fuzz/corpus/tls/ and a subset into tests/regressions/tls/. Run from crates/riptide.

Real hellos and a real server flight come from Python's ssl module (OpenSSL, a peer no one here
wrote) over memory BIOs; the server's certificate is made by `openssl req` in a temporary
directory and its key is thrown away with it."""
import os
import shutil
import ssl
import struct
import subprocess
import tempfile

SERVER, CLIENT, ESTABLISHED = 0, 1, 2


def seed(mode, stream, cuts=()):
    """mode, the count of cut bytes, the cut bytes (chunk size 1 + c*c), the stream."""
    return bytes([mode, len(cuts)]) + bytes(cuts) + stream


def record(ctype, body, version=0x0303, length=None):
    n = len(body) if length is None else length
    return bytes([ctype]) + struct.pack('>HH', version, n) + body


def handshake(htype, body, length=None):
    n = len(body) if length is None else length
    return bytes([htype]) + n.to_bytes(3, 'big') + body


def hellos(certfile, keyfile):
    """(ClientHello TLS 1.3, ClientHello TLS 1.2 only, server flight to the 1.3 hello)."""
    out = []
    for version in (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.maximum_version = version
        ctx.set_alpn_protocols(['h2', 'http/1.1'])
        inc, outg = ssl.MemoryBIO(), ssl.MemoryBIO()
        c = ctx.wrap_bio(inc, outg, server_hostname='localhost')
        try:
            c.do_handshake()
        except ssl.SSLWantReadError:
            pass
        out.append(outg.read())
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(certfile, keyfile)
    sctx.set_alpn_protocols(['h2', 'http/1.1'])
    inc, outg = ssl.MemoryBIO(), ssl.MemoryBIO()
    s = sctx.wrap_bio(inc, outg, server_side=True)
    inc.write(out[0])
    try:
        s.do_handshake()
    except ssl.SSLWantReadError:
        pass
    out.append(outg.read())
    return out


def main():
    tmp = tempfile.mkdtemp()
    try:
        cert, key = os.path.join(tmp, 'cert.pem'), os.path.join(tmp, 'key.pem')
        subprocess.run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt',
                        'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj',
                        '/CN=localhost', '-keyout', key, '-out', cert],
                       check=True, capture_output=True)
        hello13, hello12, flight = hellos(cert, key)
    finally:
        shutil.rmtree(tmp)

    seeds = {}
    lengths = [0, 1, 2 ** 14, 2 ** 14 + 1, 2 ** 14 + 256, 2 ** 14 + 2048, 0xFFFF]
    # Records of every boundary length and content type, with a full body of zeros and cut
    # into 1-byte, 257-byte and 16385-byte chunks; and a header alone that promises 0xFFFF.
    for mode, name in ((SERVER, 'server'), (CLIENT, 'client'), (ESTABLISHED, 'established')):
        for ctype in (20, 21, 22, 23):
            for n in lengths:
                body = bytes(n) if n < 0xFFFF else bytes(64)
                seeds[f'{name}-type{ctype}-len{n}.bin'] = seed(mode, record(ctype, body, length=n))
            seeds[f'{name}-type{ctype}-cuts.bin'] = seed(
                mode, record(ctype, bytes(2 ** 14)) * 2, cuts=(0, 16, 128))
    # Handshake messages of length 0 and 2^24-1 in a record, for each handshake type a peer
    # could send first (ClientHello 1, ServerHello 2, Certificate 11, KeyUpdate 24).
    for mode, name in ((SERVER, 'server'), (CLIENT, 'client'), (ESTABLISHED, 'established')):
        for htype in (1, 2, 11, 24):
            seeds[f'{name}-hs{htype}-len0.bin'] = seed(mode, record(22, handshake(htype, b'')))
            seeds[f'{name}-hs{htype}-len16777215.bin'] = seed(
                mode, record(22, handshake(htype, bytes(100), length=2 ** 24 - 1)))
    # A ClientHello of about 64 KiB (rustls' limit for one handshake message) over records of
    # 2^14 bytes: under, at and over the limit.
    for n in (0xfff0, 0xfffb, 0xffff, 0x10000):
        msg = handshake(1, bytes([3, 3]) + bytes(n - 2))
        seeds[f'server-hs1-big-{n:x}.bin'] = seed(
            SERVER, b''.join(record(22, msg[i:i + 2 ** 14]) for i in range(0, len(msg), 2 ** 14)))
    # Real ClientHellos (TLS 1.3 and 1.2 only; SNI localhost, ALPN h2 and http/1.1), whole,
    # byte by byte, and cut at the record header, the handshake header and every eighth.
    for name, hello in (('hello13', hello13), ('hello12', hello12)):
        seeds[f'server-{name}.bin'] = seed(SERVER, hello)
        seeds[f'server-{name}-bytewise.bin'] = seed(SERVER, hello, cuts=(0,))
        for cut in sorted({1, 5, 9, len(hello) // 8, len(hello) // 2, len(hello) - 1}):
            seeds[f'server-{name}-trunc{cut}.bin'] = seed(SERVER, hello[:cut])
        # A hello whose record length is off by one either way.
        n = struct.unpack('>H', hello[3:5])[0]
        for d, tag in ((1, 'long'), (-1, 'short')):
            seeds[f'server-{name}-record-{tag}.bin'] = seed(
                SERVER, hello[:3] + struct.pack('>H', n + d) + hello[5:])
        # The same hello twice (a second hello where a Finished belongs).
        seeds[f'server-{name}-twice.bin'] = seed(SERVER, hello + hello)
    # An SSLv2-style hello (the 2-byte length header with the top bit set).
    v2 = bytes([0x01, 0x03, 0x01, 0x00, 0x03, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x2f]) + bytes(16)
    seeds['server-sslv2-hello.bin'] = seed(SERVER, bytes([0x80 | (len(v2) >> 8), len(v2) & 0xff]) + v2)
    # Records with a bad version: SSL 3.0, a future one, nonsense.
    for version in (0x0300, 0x0305, 0x7f7f, 0xffff):
        seeds[f'server-hello13-version{version:04x}.bin'] = seed(
            SERVER, record(22, hello13[5:], version=version))
        seeds[f'established-appdata-version{version:04x}.bin'] = seed(
            ESTABLISHED, record(23, bytes(32), version=version))
    # A real server flight (OpenSSL answering its own hello) as the answer to rustls' hello:
    # parsed in full, then refused (another hello's random and key share).
    seeds['client-flight.bin'] = seed(CLIENT, flight)
    seeds['client-flight-bytewise.bin'] = seed(CLIENT, flight, cuts=(0,))
    for cut in (5, 9, len(flight) // 2):
        seeds[f'client-flight-trunc{cut}.bin'] = seed(CLIENT, flight[:cut])
    # Alerts: close_notify, a fatal one, a warning flood, an empty alert.
    for mode, name in ((SERVER, 'server'), (CLIENT, 'client'), (ESTABLISHED, 'established')):
        seeds[f'{name}-alert-close.bin'] = seed(mode, record(21, bytes([1, 0])))
        seeds[f'{name}-alert-fatal.bin'] = seed(mode, record(21, bytes([2, 40])))
        seeds[f'{name}-alert-warnings.bin'] = seed(mode, record(21, bytes([1, 90])) * 64)
        seeds[f'{name}-empty-records.bin'] = seed(mode, record(23, b'') * 64)
    seeds['empty.bin'] = b''

    for d in ('fuzz/corpus/tls', 'tests/regressions/tls'):
        os.makedirs(d, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join('fuzz/corpus/tls', 'seed-' + name), 'wb') as f:
            f.write(data)
        # The regression set skips the 64 KiB bodies to keep `cargo test` quick.
        if len(data) < 20000 or '-big-' in name:
            with open(os.path.join('tests/regressions/tls', 'seed-' + name), 'wb') as f:
                f.write(data)


if __name__ == '__main__':
    main()
