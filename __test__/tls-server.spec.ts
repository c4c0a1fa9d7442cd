// TLS server features beyond one certificate: SNI. Peers are ones riptide did not write
// (`openssl s_client`, node:tls); certificates are made at test time.
import test from 'ava'
import { execFile } from 'node:child_process'
import { serve } from 'riptide'
import { issue, makePki } from './tls-certs'

const pki = makePki()
const a = issue(pki, 'a.test')
const b = issue(pki, 'b.test')

/** A riptide TLS echo server. */
async function echoServer(tls: Record<string, unknown>) {
  return serve('tls://127.0.0.1:0', { onTraffic: (conn, data) => void conn.write(data) }, { tls: { cert: pki.cert, key: pki.key, ...tls } })
}

/** `openssl s_client` against `port` asking for `servername` (none: no SNI); its output. */
function sClient(port: number, servername: string | undefined): Promise<string> {
  const sni = servername === undefined ? ['-noservername'] : ['-servername', servername]
  return new Promise((resolve, reject) => {
    const child = execFile('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, ...sni, '-CAfile', pki.files.ca], { timeout: 10_000 }, (err, stdout) =>
      err ? reject(err) : resolve(stdout),
    )
    child.stdin?.end()
  })
}

/** The CN of the certificate `s_client` was served. */
function servedCn(out: string): string | undefined {
  return /^subject=\s*CN\s*=\s*(.+)$/m.exec(out)?.[1].trim()
}

test('SNI: openssl s_client gets the certificate of the name it asks for, and the default otherwise', async (t) => {
  const engine = await echoServer({ sni: { 'a.test': a, 'B.TEST': b } })
  const outA = await sClient(engine.port, 'a.test')
  t.is(servedCn(outA), 'a.test')
  t.regex(outA, /Verify return code: 0 \(ok\)/)
  t.is(servedCn(await sClient(engine.port, 'b.test')), 'b.test', 'names match case-insensitively')
  t.is(servedCn(await sClient(engine.port, 'c.test')), 'localhost', 'an unknown name gets the default')
  t.is(servedCn(await sClient(engine.port, undefined)), 'localhost', 'no SNI gets the default')
  await engine.stop()
})

test('SNI: a *.wildcard name covers one label', async (t) => {
  const w = issue(pki, 'w.test')
  const engine = await echoServer({ sni: { '*.w.test': w } })
  t.is(servedCn(await sClient(engine.port, 'x.w.test')), 'w.test')
  t.is(servedCn(await sClient(engine.port, 'x.y.w.test')), 'localhost')
  await engine.stop()
})

test('SNI options are checked before anything is bound', async (t) => {
  const bad = async (sni: unknown, message: RegExp) => {
    const err = await t.throwsAsync(echoServer({ sni }))
    t.is((err as { code?: string }).code, 'ERR_INVALID_ARG_VALUE')
    t.regex(err!.message, message)
  }
  await bad(['a.test'], /sni must be an object/)
  await bad({ 'a.test': { cert: a.cert } }, /sni\["a\.test"\]\.key/)
  await bad({ 'a.test': { ...a, alpn: [] } }, /has no option 'alpn'/)
  await bad({ 'not a name': a }, /DNS name/)
  await bad({ 'a.test': { cert: a.cert, key: b.key } }, /cert\/key/)
  await bad({ 'a.test': a, 'A.test': a }, /twice/)
})
