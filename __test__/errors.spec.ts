import test from 'ava'
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import net from 'node:net'
import { constants } from 'node:os'
import { join } from 'node:path'
import * as riptide from 'riptide'
import {
  AddressInUseError,
  connect as dial,
  ConnClosedError,
  ConnectionError,
  InvalidAddressError,
  InvalidOptionError,
  RiptideError,
  serve,
  type Conn,
} from 'riptide'
import { errorFromCode } from '../dist/lib/errors'
import { connect, readExactly, until } from './helpers'

const binding = require(join(__dirname, '..', 'binding.js')) as { errorCodes(): string[] }

const noop = { onTraffic() {} }

for (const bad of ['127.0.0.1:80', 'http://127.0.0.1:80', 'tcp://127.0.0.1', 'tcp://127.0.0.1:99999', 'tcp4://[::1]:1', 'tcp://bad host:1']) {
  test(`bad address ${JSON.stringify(bad)} rejects with ERR_INVALID_ADDRESS`, async (t) => {
    const err = await t.throwsAsync(serve(bad, noop), { instanceOf: InvalidAddressError })
    t.is(err?.code, 'ERR_INVALID_ADDRESS')
    t.true(err instanceof RiptideError)
  })
}

test('a taken address rejects with ERR_ADDRESS_IN_USE', async (t) => {
  const engine = await serve('tcp://127.0.0.1:0', noop)
  const err = await t.throwsAsync(serve(`tcp://127.0.0.1:${engine.port}`, noop), { instanceOf: AddressInUseError })
  t.is(err?.code, 'ERR_ADDRESS_IN_USE')
  await engine.stop()
})

test('bad options and arguments reject with ERR_INVALID_ARG_VALUE', async (t) => {
  for (const options of [{ backlog: 0 }, { readBufferCap: 1.5 }, { eventBudget: -1 }, { tcpNoDelay: 'yes' }, { reactors: 2 }, { loadBalancing: 'random' }, { tcpKeepAlive: { idle: 10 } }]) {
    const err = await t.throwsAsync(serve('tcp://127.0.0.1:0', noop, options as never), { instanceOf: InvalidOptionError })
    t.is(err?.code, 'ERR_INVALID_ARG_VALUE')
  }
  await t.throwsAsync(serve([], noop), { code: 'ERR_INVALID_ARG_VALUE' })
  await t.throwsAsync(serve('tcp://127.0.0.1:0', null as never), { code: 'ERR_INVALID_ARG_VALUE' })
})

test('writes after close() or onClose throw ERR_CONN_CLOSED', async (t) => {
  let closedConn: Conn | undefined
  const errors: unknown[] = []
  const engine = await serve('tcp://127.0.0.1:0', {
    onTraffic(conn) {
      conn.close()
      try {
        conn.write('late')
      } catch (e) {
        errors.push(e)
      }
    },
    onClose(conn) {
      closedConn = conn
    },
  })
  const s = await connect(engine.port)
  s.write('x')
  await until(() => closedConn !== undefined)
  t.true(errors[0] instanceof ConnClosedError)
  t.throws(() => closedConn!.write('after'), { code: 'ERR_CONN_CLOSED' })
  s.destroy()
  await engine.stop()
})

test('a throwing onTraffic does not kill the server; onError gets the error and the conn', async (t) => {
  const reported: { err: unknown; id: number | undefined }[] = []
  const engine = await serve('tcp://127.0.0.1:0', {
    onTraffic(conn, data) {
      if (data[0] === 0x21) throw new Error('boom')
      conn.write(data)
    },
    onError(conn, err) {
      reported.push({ err, id: conn?.id })
    },
  })
  const s = await connect(engine.port)
  s.write('!')
  await until(() => reported.length === 1)
  s.write('ok')
  t.is((await readExactly(s, 2)).toString(), 'ok')
  t.is((reported[0].err as Error).message, 'boom')
  t.is(typeof reported[0].id, 'number')
  // A second connection works too.
  const s2 = await connect(engine.port)
  s2.write('fine')
  t.is((await readExactly(s2, 4)).toString(), 'fine')
  s.destroy()
  s2.destroy()
  await engine.stop()
})

test('a throwing onTraffic without onError is printed and the server keeps serving', async (t) => {
  const original = console.error
  const printed: unknown[] = []
  console.error = (...args: unknown[]) => printed.push(args)
  try {
    const engine = await serve('tcp://127.0.0.1:0', {
      onTraffic(conn, data) {
        if (data[0] === 0x21) throw new Error('boom')
        conn.write(data)
      },
    })
    const s = await connect(engine.port)
    s.write('!')
    await until(() => printed.length === 1)
    s.write('ok')
    t.is((await readExactly(s, 2)).toString(), 'ok')
    s.destroy()
    await engine.stop()
  } finally {
    console.error = original
  }
})

test('promise jobs queued in a callback run before the next wake (callback scope)', async (t) => {
  const order: string[] = []
  const engine = await serve('tcp://127.0.0.1:0', {
    onTraffic(conn, data) {
      order.push('traffic')
      void Promise.resolve().then(() => {
        order.push('microtask')
        conn.write(data)
      })
    },
  })
  const s = await connect(engine.port)
  s.write('m')
  t.is((await readExactly(s, 1)).toString(), 'm')
  t.deepEqual(order, ['traffic', 'microtask'])
  s.destroy()
  await engine.stop()
})

test('every ERR_* code the Rust side can produce maps to an exported, documented RiptideError class', (t) => {
  const codes = binding.errorCodes()
  t.true(codes.length >= 18, `${codes.length} codes`)
  t.is(new Set(codes).size, codes.length)
  const exported = new Set<unknown>(Object.values(riptide))
  const docs = readFileSync(join(__dirname, '..', 'docs', 'api.md'), 'utf8')
  for (const code of codes) {
    const err = errorFromCode(code, `a ${code}`)
    t.is(err.code, code)
    t.is(err.message, `a ${code}`)
    t.true(err instanceof RiptideError, code)
    t.not(err.constructor, RiptideError, `${code} has a class of its own`)
    t.true(exported.has(err.constructor), `${code}: ${err.constructor.name} is exported`)
    t.true(docs.includes(`\`${code}\``), `${code} is documented in docs/api.md`)
    t.true(docs.includes(`\`${err.constructor.name}\``), `${err.constructor.name} is documented in docs/api.md`)
  }
})

test('OS error codes become ConnectionErrors carrying Node-style errno, syscall, address and port', (t) => {
  for (const code of ['ECONNRESET', 'EPIPE', 'ENETUNREACH', 'EHOSTUNREACH', 'ETIMEDOUT', 'EMFILE']) {
    const err = errorFromCode(code, code, { syscall: 'read', address: '10.0.0.1', port: 80 })
    t.true(err instanceof ConnectionError, code)
    const e = err as ConnectionError
    t.is(e.errno, -(constants.errno as Record<string, number>)[code], code)
    t.deepEqual([e.syscall, e.address, e.port], ['read', '10.0.0.1', 80])
  }
  t.true(errorFromCode('ERR_IO', 'x') instanceof ConnectionError)
})

test('a failed dial rejects with ECONNREFUSED, syscall connect, the target address and errno', async (t) => {
  const probe = net.createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const port = (probe.address() as net.AddressInfo).port
  await new Promise((resolve) => probe.close(resolve))
  const err = await t.throwsAsync(dial(`tcp://127.0.0.1:${port}`, {}), { instanceOf: ConnectionError, code: 'ECONNREFUSED' })
  t.is(err?.syscall, 'connect')
  t.is(err?.address, '127.0.0.1')
  t.is(err?.port, port)
  t.is(err?.errno, -constants.errno.ECONNREFUSED)
})

test('a reset connection closes with ECONNRESET, syscall read, the peer and errno', async (t) => {
  let closed: RiptideError | undefined
  const engine = await serve('tcp://127.0.0.1:0', {
    onClose(_conn, err) {
      closed = err
    },
  })
  const s = await connect(engine.port)
  const peerPort = s.localPort
  await new Promise((r) => setTimeout(r, 50))
  s.resetAndDestroy()
  await until(() => closed !== undefined)
  t.true(closed instanceof ConnectionError)
  const e = closed as ConnectionError
  t.is(e.code, 'ECONNRESET')
  t.is(e.errno, -constants.errno.ECONNRESET)
  t.is(e.syscall, 'read')
  t.is(e.address, '127.0.0.1')
  t.is(e.port, peerPort)
  await engine.stop()
})

;(process.platform === 'linux' ? test : test.skip)('onAcceptError(err, count): EMFILE as a ConnectionError with errno and syscall accept', async (t) => {
  const child = spawn('prlimit', ['--nofile=64:64', process.execPath, '--import', 'tsx', join(__dirname, 'fixtures', 'accept-error-server.ts')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let out = ''
  child.stdout.on('data', (d) => (out += d))
  await until(() => /port (\d+)/.test(out), 15_000)
  const port = Number(/port (\d+)/.exec(out)![1])
  const sockets: net.Socket[] = []
  for (let i = 0; i < 100; i++) sockets.push(net.connect(port, '127.0.0.1').on('error', () => {}))
  await until(() => /acceptError/.test(out), 10_000)
  const [, name, code, errno, syscall, count] = /acceptError (\S+) (\S+) (\S+) (\S+) (\d+)/.exec(out)!
  t.deepEqual([name, code, Number(errno), syscall], ['ConnectionError', 'EMFILE', -constants.errno.EMFILE, 'accept'])
  t.true(Number(count) >= 1)
  t.false(/accepting paused/.test(out), 'with onAcceptError the logger is not used')
  for (const s of sockets) s.destroy()
  child.kill()
})
