/**
 * The uWebSockets.js peer: `App().get('/*')` answering "Hello, World!". uWebSockets.js itself
 * is not on the npm registry (its author ships it from GitHub); the bench build (bench/uws.ts)
 * fetches the npm republish @btc-vision/uwebsockets.js into target/bench/uws/ and, when its
 * binary needs a newer glibc than this machine's, prepares a copy that loads through a small
 * shim (bench/peers/uws-shim/shim.c). A `uWebSockets.js` installed by hand in node_modules is
 * used first when it loads. Exits with code 3 and a JSON `{"error":...}` line when neither can
 * be loaded. `--check` only loads it and prints `{"via":...}`. With `--cert` and `--key` (PEM
 * files) it serves HTTPS through `SSLApp`, with the same route.
 * `node --import tsx bench/peers/uws-http.ts --port 8083 [--cert cert.pem --key key.pem]`
 */
import { parseArgs } from 'node:util'
import { firstLine, loadUws, type LoadedUws } from './uws-load'

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
  SSLApp(options: { cert_file_name: string; key_file_name: string }): UwsApp
}

const { values } = parseArgs({
  options: { port: { type: 'string', default: '8083' }, check: { type: 'boolean', default: false }, cert: { type: 'string' }, key: { type: 'string' } },
})
let loaded: LoadedUws
try {
  loaded = loadUws()
} catch (err) {
  console.log(JSON.stringify({ error: firstLine(err) }))
  process.exit(3)
}
if (values.check) {
  console.log(JSON.stringify({ via: loaded.via, ...(loaded.manifest ? { manifest: loaded.manifest } : {}) }))
  process.exit(0)
}
const uws = loaded.module as Uws
const tls = values.cert && values.key ? { cert_file_name: values.cert, key_file_name: values.key } : undefined
const app = tls ? uws.SSLApp(tls) : uws.App()
app
  .get('/*', (res) => void res.writeHeader('Content-Type', 'text/plain').end('Hello, World!'))
  .listen('127.0.0.1', Number(values.port), (token) => {
    if (!token) {
      console.log(JSON.stringify({ error: `cannot listen on port ${values.port}` }))
      process.exit(3)
    }
    console.log(`uWebSockets.js${tls ? ' SSLApp' : ''} listening on 127.0.0.1:${values.port}`)
  })
process.once('SIGTERM', () => process.exit(0))
