/**
 * The `node:net` HTTP responder peer: the transport ceiling of Node for HTTP, shaped like the C
 * floor's and gnet's responder. Per `data` chunk a 4-state matcher counts `\r\n\r\n` across
 * chunk boundaries, and one write sends that many copies of a canned response (from a cache).
 * `node --import tsx bench/peers/node-net-http.ts --port 8081`
 */
import net from 'node:net'
import { parseArgs } from 'node:util'

const RESPONSE = Buffer.from('HTTP/1.1 200 OK\r\nServer: node\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!')
const cache: Buffer[] = [Buffer.alloc(0)]

/** `n` responses in one buffer, built once per `n`. */
function responses(n: number): Buffer {
  while (cache.length <= n) cache.push(Buffer.concat([cache[cache.length - 1], RESPONSE]))
  return cache[n]
}

const { values } = parseArgs({ options: { port: { type: 'string', default: '8081' } } })
const server = net.createServer({ noDelay: true }, (s) => {
  let state = 0
  s.on('data', (d: Buffer) => {
    let n = 0
    for (let i = 0; i < d.length; i++) {
      const b = d[i]
      if (b === (state & 1 ? 10 : 13)) {
        if (++state === 4) {
          n++
          state = 0
        }
      } else {
        state = b === 13 ? 1 : 0
      }
    }
    if (n > 0) s.write(n < 256 ? responses(n) : Buffer.concat(Array<Buffer>(n).fill(RESPONSE)))
  })
  s.on('error', () => {})
})
server.listen(Number(values.port), '127.0.0.1', () => {
  console.log(`node:net http responder listening on 127.0.0.1:${(server.address() as net.AddressInfo).port}`)
})
process.once('SIGTERM', () => process.exit(0))
