// A client on the `ws` npm package, the peer for tests/interop.rs's server tests.
// argv: url, `deflate` or `plain`. Sends text and binary messages of 1 B to 16 MiB, whole and
// fragmented, checks each echo byte for byte, checks the subprotocol, pings, then closes with
// 4002 "done". Exits 0 when all went right, 1 with the reason on stderr otherwise.
'use strict';
const WebSocket = require('ws');

const [url, mode] = process.argv.slice(2);
const ws = new WebSocket(url, ['chat'], {
  maxPayload: 64 << 20,
  perMessageDeflate: mode === 'deflate' ? { threshold: 0 } : false,
});
const fail = (why) => {
  process.stderr.write(`ws client: ${why}\n`);
  process.exit(1);
};

// 1- to 4-byte characters, 10 bytes a round, so fragments cut characters apart.
const text = (size) => 'aé☃𝄞'.repeat(Math.floor(size / 10)) + 'a'.repeat(size % 10);
const binary = (size) => Buffer.from(Array.from({ length: size }, (_, i) => (i * 31 + 7) & 255));

const sizes = [1, 125, 126, 65535, 65536, 1 << 20, 16 << 20];
const cases = [];
for (const size of sizes) {
  for (const fragmented of [false, true]) {
    if (fragmented && size < 3) continue;
    cases.push({ data: text(size), binary: false, fragmented });
    cases.push({ data: binary(size), binary: true, fragmented });
  }
}

const queue = [];
ws.on('message', (data, isBinary) => queue.shift()(data, isBinary));
const next = () => new Promise((resolve) => queue.push((data, isBinary) => resolve({ data, isBinary })));

ws.on('error', (e) => fail(e.message));
ws.on('open', async () => {
  if (ws.protocol !== 'chat') fail(`subprotocol ${ws.protocol}`);
  for (const c of cases) {
    const reply = next();
    if (c.fragmented) {
      const bytes = Buffer.from(c.data);
      const third = Math.floor(bytes.length / 3);
      ws.send(bytes.subarray(0, third), { binary: c.binary, fin: false });
      ws.send(bytes.subarray(third, 2 * third), { binary: c.binary, fin: false });
      ws.send(bytes.subarray(2 * third), { binary: c.binary, fin: true });
    } else {
      ws.send(c.data, { binary: c.binary });
    }
    const { data, isBinary } = await reply;
    if (isBinary !== c.binary) fail(`type changed for ${c.data.length}`);
    if (!Buffer.from(c.data).equals(data)) fail(`echo differs for ${c.binary ? 'binary' : 'text'} of ${c.data.length}`);
  }
  ws.once('pong', (payload) => {
    if (payload.toString() !== 'probe') fail('pong payload');
    ws.close(4002, 'done');
  });
  ws.ping('probe');
});
ws.on('close', (code) => process.exit(code === 4002 ? 0 : (fail(`closed with ${code}`), 1)));
