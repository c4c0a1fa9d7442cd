/**
 * Plaintext "Hello, World!" over HTTP/1.1 (keep-alive and pipelining): the HTTP benchmarks'
 * server. `npx tsx examples/http.ts --port 8080`, then `curl http://127.0.0.1:8080/`.
 */
import { parseArgs } from 'node:util'
import { codecs, parseRequest, response, serve } from 'riptide'

const hello = response({ headers: { 'Content-Type': 'text/plain', Server: 'riptide' }, body: 'Hello, World!' })

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { port: { type: 'string', default: '8080' } } })
  const engine = await serve(
    `tcp://127.0.0.1:${values.port}`,
    {
      onTraffic(conn, frame) {
        const req = parseRequest(frame)
        if (req.path === '/' || req.path === '/plaintext') conn.write(hello)
        else conn.write(response({ status: 404, body: 'not found' }))
        if (!req.keepAlive) conn.close()
      },
      onError(conn, err) {
        const code = (err as { code?: string }).code
        const status = code === 'ERR_HTTP_HEADER_TOO_LARGE' ? 431 : code === 'ERR_HTTP_BODY_TOO_LARGE' ? 413 : 400
        conn?.write(response({ status, headers: { Connection: 'close' } }))
        conn?.close()
      },
    },
    { codec: codecs.http1(), frameTimeout: 10_000 },
  )
  console.log(`riptide http on 127.0.0.1:${engine.port}`)
  process.once('SIGINT', () => void engine.stop({ drainTimeout: 1000 }))
}

void main()
