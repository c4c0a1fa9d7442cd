// HTTP/1.1 over TLS as in examples/https.ts, against Debian's `curl` verifying the chain with
// `--cacert` (no `-k`): keep-alive across requests, SNI picking the certificate of the name.
// Skipped, saying so, where curl is not installed.
import test from 'ava'
import { execFile, execFileSync } from 'node:child_process'
import { codecs, parseRequest, response, serve } from 'riptide'
import { until } from './helpers'
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

/** `curl -v` with `args`: its stdout and its stderr (the TLS details). */
function curlVerbose(args: string[]): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) =>
    execFile('curl', ['-sS', '-v', '--cacert', pki.files.ca, ...args], { timeout: 10_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${err.message}: ${stderr}`)) : resolve({ stdout, stderr }),
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

curlTest(`curl --cacert: TLS 1.2 and 1.3 each; a client certificate from the trusted CA accepted, a stranger's refused${skipped}`, async (t) => {
  const clients = makePki()
  const stranger = makePki()
  const subjects: (string | undefined)[] = []
  const refused: string[] = []
  const engine = await serve(
    'tls://127.0.0.1:0',
    {
      onTraffic(conn, frame) {
        parseRequest(frame)
        subjects.push(conn.peerCertificate?.subject)
        conn.write(response({ body: 'mtls ok' }))
      },
      onHandshakeError: (err) => void refused.push(err.code),
    },
    { codec: codecs.http1(), tls: { cert: pki.cert, key: pki.key, requestCert: true, ca: clients.ca } },
  )
  const url = `https://localhost:${engine.port}/`
  const resolve = ['--resolve', `localhost:${engine.port}:127.0.0.1`]
  const own = ['--cert', clients.files.cert, '--key', clients.files.key]
  for (const [version, args] of [['TLSv1.2', ['--tlsv1.2', '--tls-max', '1.2']], ['TLSv1.3', ['--tlsv1.3']]] as const) {
    const { stdout, stderr } = await curlVerbose([...resolve, ...args, ...own, url])
    t.is(stdout, 'mtls ok')
    t.regex(stderr, new RegExp(`SSL connection using ${version.replace('.', '\\.')} `), version)
  }
  t.deepEqual(subjects, ['CN=localhost', 'CN=localhost'], 'the server saw the client certificate both times')
  // Refused in the handshake (curl's wording varies with when the alert lands: an alert, a
  // reset, a failed send); what counts is no response and the server's handshake error.
  await t.throwsAsync(curl([...resolve, '--cert', stranger.files.cert, '--key', stranger.files.key, url]))
  await t.throwsAsync(curl([...resolve, url]))
  await until(() => refused.length === 2)
  t.deepEqual(refused, ['ERR_TLS_HANDSHAKE', 'ERR_TLS_HANDSHAKE'])
  await engine.stop()
})
