/**
 * The uWebSockets.js peer: `App().get('/*')` answering "Hello, World!". uWebSockets.js is not
 * on the npm registry (its author ships it from GitHub), so the bench can only run it when a
 * working copy is installed by hand (`npm install --no-save uNetworking/uWebSockets.js#v20.x`
 * on a machine that reaches GitHub and has the glibc its binary needs). Exits with code 3 and a
 * JSON `{"error":...}` line when it cannot be loaded.
 * `node --import tsx bench/peers/uws-http.ts --port 8083`
 */
import { createRequire } from 'node:module'
import { parseArgs } from 'node:util'

/** The part of uWebSockets.js this peer uses. */
interface UwsResponse {
  writeHeader(key: string, value: string): UwsResponse
  end(body: string): UwsResponse
}
interface UwsApp {
  get(pattern: string, handler: (res: UwsResponse) => void): UwsApp
  listen(host: string, port: number, cb: (token: unknown) => void): UwsApp
}
interface Uws {
  App(): UwsApp
}

const { values } = parseArgs({ options: { port: { type: 'string', default: '8083' } } })
let uws: Uws
try {
  uws = createRequire(__filename)('uWebSockets.js') as Uws
} catch (err) {
  const message = err instanceof Error ? err.message.split('\n')[0] : String(err)
  console.log(JSON.stringify({ error: message }))
  process.exit(3)
}
uws
  .App()
  .get('/*', (res) => void res.writeHeader('Content-Type', 'text/plain').end('Hello, World!'))
  .listen('127.0.0.1', Number(values.port), (token) => {
    if (!token) {
      console.log(JSON.stringify({ error: `cannot listen on port ${values.port}` }))
      process.exit(3)
    }
    console.log(`uWebSockets.js listening on 127.0.0.1:${values.port}`)
  })
process.once('SIGTERM', () => process.exit(0))
