import test from 'ava'
import { codecs, parseRequest, response, serve } from 'riptide'
import { connect, readExactly } from './helpers'

const ok = (body: string) => response({ headers: { 'Content-Type': 'text/plain' }, body })

test('http1: 16 pipelined requests in one write get 16 responses in order; bodies and chunked bodies arrive whole', async (t) => {
  const paths: string[] = []
  const engine = await serve('tcp://127.0.0.1:0', {
    onTraffic(conn, frame) {
      const req = parseRequest(frame)
      paths.push(`${req.method} ${req.path} ${Buffer.from(req.body).toString()}`)
      conn.write(ok(req.path))
    },
  }, { codec: codecs.http1() })
  const s = await connect(engine.port)
  const reqs = Array.from({ length: 16 }, (_, i) => `GET /r${i} HTTP/1.1\r\nHost: x\r\n\r\n`).join('')
  const expected = Array.from({ length: 16 }, (_, i) => ok(`/r${i}`)).map(String).join('')
  s.write(reqs)
  t.is((await readExactly(s, expected.length)).toString(), expected)
  s.write('POST /form HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello')
  s.write('POST /chunks HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n')
  const two = String(ok('/form')) + String(ok('/chunks'))
  t.is((await readExactly(s, two.length)).toString(), two)
  t.deepEqual(paths.slice(16), ['POST /form hello', 'POST /chunks abcde'])
  s.destroy()
  await engine.stop()
})

test('http1: Expect: 100-continue is answered before the body; a bad request goes to onError', async (t) => {
  const errors: string[] = []
  const engine = await serve('tcp://127.0.0.1:0', {
    onTraffic(conn, frame) {
      conn.write(ok(Buffer.from(parseRequest(frame).body).toString()))
    },
    onError(conn, err) {
      errors.push((err as { code: string }).code)
      conn?.write(response({ status: 400, headers: { Connection: 'close' } }))
      conn?.close()
    },
  }, { codec: codecs.http1() })
  const s = await connect(engine.port)
  s.write('PUT /u HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n')
  t.is((await readExactly(s, 25)).toString(), 'HTTP/1.1 100 Continue\r\n\r\n')
  s.write('data')
  const body = String(ok('data'))
  t.is((await readExactly(s, body.length)).toString(), body)
  const bad = await connect(engine.port)
  bad.write('NOT HTTP\x00\r\n\r\n')
  const reply = (await readExactly(bad, 12)).subarray(0, 12).toString()
  t.is(reply, 'HTTP/1.1 400')
  t.deepEqual(errors, ['ERR_HTTP_PARSE'])
  s.destroy()
  bad.destroy()
  await engine.stop()
})

test('http1: parseRequest reads headers in order, header() case-insensitively, and keep-alive per version', async (t) => {
  const seen: Array<{ headers: Array<[string, string]>; host?: string; missing?: string; keepAlive: boolean; long?: string }> = []
  const engine = await serve('tcp://127.0.0.1:0', {
    onTraffic(conn, frame) {
      const req = parseRequest(frame)
      seen.push({ headers: req.headers, host: req.header('HOST'), missing: req.header('x-none'), keepAlive: req.keepAlive, long: req.header('x-long') })
      conn.write(ok('.'))
    },
  }, { codec: codecs.http1() })
  const s = await connect(engine.port)
  const long = 'v'.repeat(300)
  s.write(`GET /a HTTP/1.1\r\nHost: h1\r\nX-Long: ${long}\r\nConnection: Keep-Alive\r\n\r\n`)
  s.write('GET /b HTTP/1.0\r\nhost: h2\r\nConnection: keep-alive\r\n\r\n')
  s.write('GET /c HTTP/1.0\r\nHOST: h3\r\n\r\n')
  await readExactly(s, String(ok('.')).length * 3)
  t.deepEqual(seen[0].headers, [['Host', 'h1'], ['X-Long', long], ['Connection', 'Keep-Alive']])
  t.is(seen[0].host, 'h1')
  t.is(seen[0].long, long)
  t.is(seen[0].missing, undefined)
  t.true(seen[0].keepAlive)
  t.is(seen[1].host, 'h2')
  t.true(seen[1].keepAlive, 'HTTP/1.0 with Connection: keep-alive')
  t.is(seen[2].host, 'h3')
  t.false(seen[2].keepAlive, 'HTTP/1.0 without it closes')
  s.destroy()
  await engine.stop()
})
