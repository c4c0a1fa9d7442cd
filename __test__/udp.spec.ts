import test from 'ava'
import dgram from 'node:dgram'
import { DatagramSocket, serve, type Conn, type PeerAddr } from 'riptide'
import { until } from './helpers'

function client(): Promise<dgram.Socket> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4')
    s.bind(0, '127.0.0.1', () => resolve(s))
  })
}

function exchange(s: dgram.Socket, port: number, msg: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no reply')), 3000)
    s.once('message', (m) => {
      clearTimeout(timer)
      resolve(m.toString())
    })
    s.send(msg, port, '127.0.0.1')
  })
}

test('udp: each datagram gets a transient conn whose write replies to the sender', async (t) => {
  const engine = await serve('udp://127.0.0.1:0', {
    onTraffic(conn, data) {
      conn.write(`${conn.remotePort}:${Buffer.from(data).toString()}`)
    },
  })
  t.true(engine.port > 0)
  const [a, b] = await Promise.all([client(), client()])
  try {
    for (let i = 0; i < 50; i++) {
      t.is(await exchange(a, engine.port, `a${i}`), `${a.address().port}:a${i}`)
      t.is(await exchange(b, engine.port, `b${i}`), `${b.address().port}:b${i}`)
    }
  } finally {
    a.close()
    b.close()
    await engine.stop()
  }
})

test('udp: sendTo reaches any address from the listener socket', async (t) => {
  const [asker, other] = await Promise.all([client(), client()])
  const engine = await serve('udp://127.0.0.1:0', {
    onTraffic(conn, data) {
      conn.sendTo({ family: 'IPv4', address: '127.0.0.1', port: other.address().port }, data)
    },
  })
  const got = new Promise<string>((resolve) => other.once('message', (m) => resolve(m.toString())))
  asker.send('forward me', engine.port, '127.0.0.1')
  t.is(await got, 'forward me')
  asker.close()
  other.close()
  await engine.stop()
})

test('udp sessions: one conn per peer with onOpen, context kept, onClose after the idle timeout', async (t) => {
  const events: string[] = []
  let session: Conn | undefined
  const engine = await serve('udp://127.0.0.1:0', {
    onOpen(conn) {
      session = conn
      conn.context = 0
      events.push('open')
    },
    onTraffic(conn, data) {
      conn.context = (conn.context as number) + 1
      conn.write(`${conn.context}:${Buffer.from(data).toString()}`)
    },
    onClose(conn, err) {
      events.push(`close ${err?.code ?? 'none'} ${conn === session}`)
    },
  }, { udpSessionTimeout: 100 })
  const c = await client()
  t.is(await exchange(c, engine.port, 'x'), '1:x')
  t.is(await exchange(c, engine.port, 'y'), '2:y')
  t.is(session?.udpSocket, 0)
  t.is(engine.countConnections(), 1)
  const started = Date.now()
  await until(() => events.length === 2)
  t.true(Date.now() - started >= 80)
  t.deepEqual(events, ['open', 'close none true'])
  t.is(await exchange(c, engine.port, 'z'), '1:z', 'a new session after expiry')
  c.close()
  await engine.stop()
})

test('udp options are validated', async (t) => {
  await t.throwsAsync(serve('udp://127.0.0.1:0', {}, { udpSessionTimeout: -1 }), { code: 'ERR_INVALID_ARG_VALUE' })
  await t.throwsAsync(serve('udp://127.0.0.1:0', {}, { multicastInterface: 'eth0' }), { code: 'ERR_INVALID_ARG_VALUE' })
  await t.throwsAsync(serve('udp6://127.0.0.1:0', {}), { code: 'ERR_INVALID_ADDRESS' })
})

test('udp: onDatagram(socket, peer, data) gets each datagram; socket.sendTo(peer, data) replies', async (t) => {
  const sockets = new Set<DatagramSocket>()
  const peers: PeerAddr[] = []
  let traffic = 0
  const engine = await serve('udp://127.0.0.1:0', {
    onDatagram(socket, peer, data) {
      sockets.add(socket)
      peers.push(peer)
      socket.sendTo(peer, `${socket.index}:${Buffer.from(data).toString()}`)
    },
    onTraffic() {
      traffic++
    },
  })
  const c = await client()
  t.is(await exchange(c, engine.port, 'one'), '0:one')
  t.is(await exchange(c, engine.port, 'two'), '0:two')
  t.is(sockets.size, 1, 'one object per listener socket')
  t.true([...sockets][0] instanceof DatagramSocket)
  t.deepEqual(peers[0], { family: 'IPv4', address: '127.0.0.1', port: c.address().port })
  t.is(traffic, 0, 'with onDatagram, datagrams do not reach onTraffic')
  t.throws(() => [...sockets][0].sendTo({ family: 'unix', path: '/tmp/x' }, 'x'), { code: 'ERR_INVALID_ADDRESS' })
  c.close()
  await engine.stop()
})

test('udp: engine.datagramSocket(index) sends from a listener before any datagram came, and is the object onDatagram gets', async (t) => {
  const seen: DatagramSocket[] = []
  const engine = await serve(['tcp://127.0.0.1:0', 'udp://127.0.0.1:0', 'udp://127.0.0.1:0'], {
    onDatagram(socket, peer, data) {
      seen.push(socket)
      socket.sendTo(peer, data)
    },
  })
  const c = await client()
  const got = new Promise<{ data: string; port: number }>((resolve) => c.once('message', (m, from) => resolve({ data: m.toString(), port: from.port })))
  const second = engine.datagramSocket(1)
  t.is(second.index, 1)
  second.sendTo({ family: 'IPv4', address: '127.0.0.1', port: c.address().port }, 'first')
  const { data, port } = await got
  t.is(data, 'first')
  t.is(port, engine.addresses[2].family === 'unix' ? -1 : engine.addresses[2].port, 'from the second UDP listener')
  t.is(await exchange(c, port, 'echo'), 'echo')
  t.is(seen[0], second, 'the same object')
  t.is(engine.datagramSocket(), engine.datagramSocket(0))
  t.throws(() => engine.datagramSocket(2), { code: 'ERR_INVALID_ARG_VALUE', message: /no UDP listener socket 2/ })
  t.throws(() => engine.datagramSocket(-1), { code: 'ERR_INVALID_ARG_VALUE' })
  c.close()
  await engine.stop()
})
