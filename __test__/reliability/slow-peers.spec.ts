// T6 slow readers, T11 partial writes without spinning, T18 a slow JS handler.
import test from 'ava'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { serve, type Conn } from 'riptide'
import { connect, pausedClient, readExactly } from '../helpers'
import { cpuSeconds, percentile, rss, spin } from './helpers'

test.serial('T6: 50 non-reading peers stay within the high water mark; a healthy client keeps low latency', async (t) => {
  const HIGH = 1 << 20
  const CHUNK = 64 * 1024
  // One chunk, reused: write() copies, so RSS measures what is queued, not JS garbage.
  const chunk = Buffer.alloc(CHUNK)
  const pump = (conn: Conn) => {
    const ctx = conn.context as { left: number }
    while (ctx.left > 0) {
      ctx.left -= CHUNK
      if (!conn.write(chunk)) break
    }
  }
  const engine = await serve('tcp://127.0.0.1:0', {
    onTraffic(conn, data) {
      if (data[0] === 0x70) return void conn.write(data) // 'p': ping from the healthy client
      conn.context = { left: 64 << 20 }
      pump(conn)
    },
    onWritability: (conn, writable) => {
      if (writable) pump(conn)
    },
  }, { writeHighWaterMark: HIGH, writeLowWaterMark: HIGH / 2 })
  const before = rss()
  const slow = await Promise.all(Array.from({ length: 50 }, () => pausedClient(engine.port)))
  for (const s of slow) s.write('go')
  await new Promise((r) => setTimeout(r, 500))
  const healthy = await connect(engine.port)
  const rtts: number[] = []
  for (let i = 0; i < 500; i++) {
    const t0 = performance.now()
    healthy.write('p')
    await readExactly(healthy, 1)
    rtts.push(performance.now() - t0)
  }
  const grown = rss() - before
  for (const s of slow) s.destroy()
  healthy.destroy()
  await engine.stop()
  t.log(`RSS growth ${(grown / 1048576).toFixed(1)} MiB, healthy p99 ${percentile(rtts, 99).toFixed(2)} ms`)
  t.true(grown < 50 * HIGH + (48 << 20), `RSS grew ${grown}`)
  t.true(percentile(rtts, 99) < 10)
})

test.serial('T11: partial writes to a tiny window arrive byte-exact and the reactor does not spin while blocked', async (t) => {
  const SIZE = 8 << 20
  const payload = Buffer.alloc(SIZE)
  for (let i = 0; i < SIZE; i++) payload[i] = (i * 2654435761) >>> 24
  const engine = await serve('tcp://127.0.0.1:0', {
    onTraffic(conn) {
      conn.write(payload)
    },
  }, { socketSendBuffer: 4096 })
  const s = await pausedClient(engine.port)
  s.write('go')
  // Blocked: the peer reads nothing for a second; CPU must stay near zero.
  await new Promise((r) => setTimeout(r, 200))
  const c0 = cpuSeconds()
  await new Promise((r) => setTimeout(r, 1000))
  const busy = cpuSeconds() - c0
  t.log(`CPU while blocked: ${(busy * 100).toFixed(1)} % of a core`)
  t.true(busy < 0.05)
  // Now read in random small pieces at random moments.
  const chunks: Buffer[] = []
  let got = 0
  await new Promise<void>((resolve) => {
    const step = () => {
      const d = s.read(1 + Math.floor(Math.random() * 4096)) as Buffer | null
      if (d !== null) {
        chunks.push(d)
        got += d.length
      }
      if (got >= SIZE) return resolve()
      setTimeout(step, Math.random() < 0.01 ? 5 : 0)
    }
    step()
  })
  t.true(Buffer.concat(chunks).subarray(0, SIZE).equals(payload))
  s.destroy()
  await engine.stop()
})

test.serial('T18: a slow JS handler makes the reactor stop reading; memory stays bounded', async (t) => {
  let handled = 0
  const engine = await serve('tcp://127.0.0.1:0', {
    onTraffic(_conn, data) {
      handled += data.length
      spin(5)
    },
  })
  const before = rss()
  const flood = spawn(process.execPath, ['--import', 'tsx', join(__dirname, '..', 'fixtures', 'flood.ts'), String(engine.port), '16', '3000'])
  let out = ''
  flood.stdout.on('data', (d) => (out += d))
  let peak = 0
  const sampler = setInterval(() => (peak = Math.max(peak, rss() - before)), 50)
  await new Promise((r) => flood.once('exit', r))
  clearInterval(sampler)
  const offered = Number(/offered (\d+)/.exec(out)?.[1] ?? 0)
  t.log(`offered ${(offered / 1048576).toFixed(0)} MiB, handled ${(handled / 1048576).toFixed(0)} MiB, peak RSS growth ${(peak / 1048576).toFixed(1)} MiB`)
  t.true(handled < offered, 'the reactor read less than the client tried to send: the window closed')
  t.true(peak < 48 << 20, 'bounded by one turn of reads, not by what is offered')
  // What is still in the kernel buffers would take the slow handler seconds: just stop.
  await engine.stop()
})
