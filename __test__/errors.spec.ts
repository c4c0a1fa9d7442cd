import test from 'ava'
import {
  AddressInUseError,
  ConnClosedError,
  InvalidAddressError,
  InvalidOptionError,
  RiptideError,
  serve,
  type Conn,
} from 'riptide'
import { connect, readExactly, until } from './helpers'

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
    onError(err, conn) {
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
