// HTTP/1.1 over TLS as in examples/https.ts, against Debian's `curl` verifying the chain with
// `--cacert` (no `-k`): keep-alive across requests, SNI picking the certificate of the name.
// Skipped, saying so, where curl is not installed.
import test from 'ava'
import { execFile, execFileSync } from 'node:child_process'
import { codecs, parseRequest, response, serve } from 'riptide'
import { issue, makePki } from './tls-certs'

const pki = makePki()

function hasCurl(): boolean {
  try {
    execFileSync('curl', ['--version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

const curlTest = hasCurl() ? test : test.skip
const skipped = hasCurl() ? '' : ' (SKIPPED: curl is not installed)'

/** `curl` with `args`; its stdout. */
function curl(args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile('curl', ['-sS', '--cacert', pki.files.ca, ...args], { timeout: 10_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${err.message}: ${stderr}`)) : resolve(stdout),
    ),
  )
}

curlTest(`curl --cacert: HTTPS requests on one kept-alive connection, 404, and SNI by name${skipped}`, async (t) => {
  const a = issue(pki, 'a.test')
  const engine = await serve(
    'tls://127.0.0.1:0',
    {
      onTraffic(conn, frame) {
        const req = parseRequest(frame)
        conn.write(req.path === '/' ? response({ body: `Hello, World! (${conn.alpnProtocol})` }) : response({ status: 404, body: 'not found' }))
        if (!req.keepAlive) conn.close()
      },
    },
    { codec: codecs.http1(), tls: { cert: pki.cert, key: pki.key, sni: { 'a.test': a }, alpn: ['http/1.1'] } },
  )
  const port = engine.port
  const out = await curl([
    '--resolve', `localhost:${port}:127.0.0.1`,
    '-w', ' %{http_code} %{num_connects}\n',
    `https://localhost:${port}/`,
    `https://localhost:${port}/missing`,
  ])
  t.is(out, `Hello, World! (http/1.1) 200 1\nnot found 404 0\n`, 'the second request reused the connection')
  const byName = await curl(['--resolve', `a.test:${port}:127.0.0.1`, '-w', ' %{ssl_verify_result}', `https://a.test:${port}/`])
  t.is(byName, 'Hello, World! (http/1.1) 0', "verified against a.test's certificate")
  // The default certificate is not valid for a.test: curl refuses it.
  const other = issue(pki, 'b.test')
  engine.setTlsContext({ cert: pki.cert, key: pki.key, sni: { 'b.test': other }, alpn: ['http/1.1'] })
  await t.throwsAsync(curl(['--resolve', `a.test:${port}:127.0.0.1`, `https://a.test:${port}/`]), { message: /certificate|SSL/i })
  await engine.stop()
})
