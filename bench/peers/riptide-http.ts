/**
 * The riptide HTTP peer (TypeScript API, one reactor): riptide's HTTP/1.1 codec frames each
 * request in Rust, the handler answers "Hello, World!" with a prebuilt response (keep-alive and
 * pipelining). With `--cert` and `--key` (PEM files) it serves HTTPS: the same codec and handler
 * on a `tls://` listener. Answers stats requests on stdin (see stats-channel.ts).
 * `node --import tsx bench/peers/riptide-http.ts --port 8080 [--cert cert.pem --key key.pem]`
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { codecs, parseRequest, response, serve, type Driver } from 'riptide'
import { serveStats } from './stats-channel'

const hello = response({ headers: { 'Content-Type': 'text/plain', Server: 'riptide' }, body: 'Hello, World!' })
const notFound = response({ status: 404, body: 'not found' })

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { port: { type: 'string', default: '8080' }, driver: { type: 'string', default: 'same-thread' }, cert: { type: 'string' }, key: { type: 'string' } },
  })
  const tls = values.cert && values.key ? { cert: readFileSync(values.cert), key: readFileSync(values.key) } : undefined
  const engine = await serve(
    `${tls ? 'tls' : 'tcp'}://127.0.0.1:${values.port}`,
    {
      onTraffic(conn, frame) {
        const req = parseRequest(frame)
        conn.write(req.path === '/' ? hello : notFound)
        if (!req.keepAlive) conn.close()
      },
    },
    { codec: codecs.http1(), driver: values.driver as Driver, ...(tls ? { tls } : {}) },
  )
  console.log(`riptide ${tls ? 'https' : 'http'} listening on 127.0.0.1:${engine.port}`)
  serveStats(engine)
}

main().catch((err: unknown) => {
  console.error(err)
  process.exit(1)
})
