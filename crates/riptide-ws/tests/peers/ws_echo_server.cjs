// An echo server on the `ws` npm package, the peer for tests/interop.rs's client tests.
// argv[2] is `deflate` or `plain`. Prints its port. Echoes each message with its type; a
// message of 4 KiB or more goes back in three fragments (cutting UTF-8 characters apart);
// `ping-me` is answered by a ping with payload `hi` and, once ponged, the text `ponged`.
'use strict';
const { WebSocketServer } = require('ws');

const deflate = process.argv[2] === 'deflate';
const wss = new WebSocketServer({
  host: '127.0.0.1',
  port: 0,
  maxPayload: 64 << 20,
  perMessageDeflate: deflate ? { threshold: 0 } : false,
});
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => {
    if (!isBinary && data.toString() === 'ping-me') {
      ws.once('pong', (payload) => ws.send(payload.toString() === 'hi' ? 'ponged' : 'bad pong'));
      ws.ping('hi');
      return;
    }
    if (data.length >= 4096) {
      const third = Math.floor(data.length / 3) + 1;
      ws.send(data.subarray(0, third), { binary: isBinary, fin: false });
      ws.send(data.subarray(third, 2 * third), { binary: isBinary, fin: false });
      ws.send(data.subarray(2 * third), { binary: isBinary, fin: true });
    } else {
      ws.send(data, { binary: isBinary });
    }
  });
});
wss.on('listening', () => console.log(wss.address().port));
