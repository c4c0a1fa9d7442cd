/**
 * The riptide HTTP peer (TypeScript API, one reactor): riptide's HTTP/1.1 codec frames each
 * request in Rust, the handler answers "Hello, World!" with a prebuilt response (keep-alive and
 * pipelining). Answers stats requests on stdin (see stats-channel.ts).
 * `node --import tsx bench/peers/riptide-http.ts --port 8080`
 */
import { parseArgs } from 'node:util'
import { codecs, parseRequest, response, serve, type Driver } from 'riptide'
import { serveStats } from './stats-channel'

const hello = response({ headers: { 'Content-Type': 'text/plain', Server: 'riptide' }, body: 'Hello, World!' })
const notFound = response({ status: 404, body: 'not found' })

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { port: { type: 'string', default: '8080' }, driver: { type: 'string', default: 'same-thread' } } })
  const engine = await serve(
    `tcp://127.0.0.1:${values.port}`,
    {
      onTraffic(conn, frame) {
        const req = parseRequest(frame)
        conn.write(req.path === '/' ? hello : notFound)
        if (!req.keepAlive) conn.close()
      },
    },
    { codec: codecs.http1(), driver: values.driver as Driver },
  )
  console.log(`riptide http listening on 127.0.0.1:${engine.port}`)
  serveStats(engine)
}

main().catch((err: unknown) => {
  console.error(err)
  process.exit(1)
})
