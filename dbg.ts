import net from 'node:net'
import { serve } from 'riptide'
async function main() {
  const engine = await serve('tcp://127.0.0.1:0', { onTraffic(conn) { conn.write(Buffer.alloc(8 << 20)) } }, { socketSendBuffer: 4096 })
  const s = new net.Socket()
  await new Promise<void>((r) => s.connect({ port: engine.port, host: '127.0.0.1' }, () => { s.pause(); r() }))
  s.write('go')
  await new Promise((r) => setTimeout(r, 300))
  const c0 = process.cpuUsage()
  await new Promise((r) => setTimeout(r, 1000))
  const c = process.cpuUsage(c0)
  console.log('cpu ms', (c.user + c.system) / 1000)
  s.destroy(); await engine.stop()
}
main()
