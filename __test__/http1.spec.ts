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
    onError(err, conn) {
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
