#!/usr/bin/env bash
# Interop through the container image: the Go kcptun stand-in (tests/interop/kcptun) as the
# client of riptide-tunnel's server, 8 parallel TCP streams of 1 MiB each to an echo target,
# every echo SHA-256-exact. Run by CI's `tunnel-image` job after `docker build`:
#   crates/riptide-tunnel/tests/image-smoke.sh
# SERVER overrides how the server starts (its flags follow), e.g. locally without Docker:
#   SERVER=target/debug/riptide-tunnel\ server crates/riptide-tunnel/tests/image-smoke.sh
set -euo pipefail
cd "$(dirname "$0")/../../.."
SERVER=${SERVER:-docker run --rm --network host riptide-tunnel}
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

(cd tests/interop/kcptun && go build -o "$work/kcptun-peer" .)

python3 - "$work/echo.port" <<'PY' &
import socket, sys, threading
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(64)
open(sys.argv[1], 'w').write(str(s.getsockname()[1]))
def echo(c):
    while (d := c.recv(65536)):
        c.sendall(d)
    c.close()
while True:
    c, _ = s.accept()
    threading.Thread(target=echo, args=(c,), daemon=True).start()
PY
pids+=($!)
for _ in $(seq 50); do [ -s "$work/echo.port" ] && break; sleep 0.1; done
target=127.0.0.1:$(cat "$work/echo.port")

udp=29900
$SERVER --listen 127.0.0.1:$udp --target "$target" --key smoke --crypt salsa20 --smuxver 2 &
pids+=($!)
"$work/kcptun-peer" client -l 127.0.0.1:0 -r 127.0.0.1:$udp -key smoke -crypt salsa20 -smuxver 2 > "$work/client.out" &
pids+=($!)
for _ in $(seq 100); do grep -q ready "$work/client.out" 2>/dev/null && break; sleep 0.1; done
local_addr=$(awk '/ready/ {print $2}' "$work/client.out")
sleep 2 # the server container starts

python3 - "$local_addr" <<'PY'
import hashlib, os, socket, sys, threading
host, port = sys.argv[1].rsplit(':', 1)
bad = []
def stream(i):
    data = os.urandom(1 << 20)
    c = socket.create_connection((host, int(port))); c.settimeout(120)
    t = threading.Thread(target=c.sendall, args=(data,)); t.start()
    got = bytearray()
    while len(got) < len(data) and (d := c.recv(65536)):
        got += d
    t.join(); c.close()
    if hashlib.sha256(got).digest() != hashlib.sha256(data).digest():
        bad.append(i)
ts = [threading.Thread(target=stream, args=(i,)) for i in range(8)]
[t.start() for t in ts]; [t.join() for t in ts]
print('image smoke:', 8 - len(bad), 'of 8 streams SHA-256-exact')
sys.exit(1 if bad else 0)
PY
