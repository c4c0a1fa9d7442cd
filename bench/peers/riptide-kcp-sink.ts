/**
 * The riptide KCP peer of workload K1: a sink that counts the bytes of each session and answers
 * every delivery with the 8-byte big-endian total so far (kcp-go peer's `sink` protocol). KCP
 * knobs: ikcp's fast profile, the same as the kcp-go ends of K1 (bench/peers.ts `KCP_KNOBS`).
 * Exits with code 3 and a JSON `{"error":...}` line when this build of riptide cannot serve
 * `kcp://` yet. `node --import tsx bench/peers/riptide-kcp-sink.ts --port 9400`
 */
import { parseArgs } from 'node:util'
import { type Conn, serve } from 'riptide'
import { serveStats } from './stats-channel'

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { port: { type: 'string', default: '9400' } } })
  const totals = new WeakMap<Conn, number>()
  const ack = Buffer.alloc(8)
  let engine
  try {
    engine = await serve(`kcp://127.0.0.1:${values.port}`, {
      onTraffic(conn, data) {
        const total = (totals.get(conn) ?? 0) + data.length
        totals.set(conn, total)
        ack.writeBigUInt64BE(BigInt(total))
        conn.write(ack)
      },
    }, { kcp: { nodelay: true, interval: 10, resend: 2, nc: true, sndWnd: 128, rcvWnd: 128 } })
  } catch (err) {
    console.log(JSON.stringify({ error: err instanceof Error ? err.message : String(err) }))
    process.exit(3)
  }
  console.log(JSON.stringify({ listen: `127.0.0.1:${engine.port}` }))
  serveStats(engine)
}

main().catch((err: unknown) => {
  console.error(err)
  process.exit(1)
})
