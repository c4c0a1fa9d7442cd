/**
 * "Hello, World!" over HTTP/1.1 on TLS: `codecs.http1()` above a `tls://` listener. Makes a
 * throwaway self-signed certificate with `openssl` at start-up.
 * `npx tsx examples/https.ts --port 8443`, then `curl -k https://127.0.0.1:8443/`.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { codecs, parseRequest, response, serve } from 'riptide'

/** A self-signed certificate for localhost, valid for a day. */
function selfSigned(): { cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), 'riptide-https-'))
  try {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ], { stdio: 'ignore' })
    return { cert: readFileSync(join(dir, 'cert.pem'), 'utf8'), key: readFileSync(join(dir, 'key.pem'), 'utf8') }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const hello = response({ headers: { 'Content-Type': 'text/plain', Server: 'riptide' }, body: 'Hello, World!' })

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { port: { type: 'string', default: '8443' } } })
  const engine = await serve(
    `tls://127.0.0.1:${values.port}`,
    {
      onTraffic(conn, frame) {
        const req = parseRequest(frame)
        conn.write(req.path === '/' ? hello : response({ status: 404, body: 'not found' }))
        if (!req.keepAlive) conn.close()
      },
      onError(conn) {
        conn?.write(response({ status: 400, headers: { Connection: 'close' } }))
        conn?.close()
      },
    },
    { codec: codecs.http1(), tls: { ...selfSigned(), alpn: ['http/1.1'] }, frameTimeout: 10_000 },
  )
  console.log(`riptide https on 127.0.0.1:${engine.port}`)
  process.once('SIGINT', () => void engine.stop({ drainTimeout: 1000 }))
}

void main()
