/**
 * Dots on a field over WebRTC: `npx tsx examples/webrtc-game/server.ts --port 9208`, then open
 * `http://127.0.0.1:9208/` in a few tabs and move with the arrow keys or WASD.
 *
 * One engine, one port number: `webrtc://` serves the page (`webrtc.static`), the signalling
 * (`POST /.rtc/offer`) on TCP and the data channels on UDP. Every player is a Conn in the room
 * `game`. Positions come 20 times a second on the unreliable channel and go to the room
 * unreliable (one publish, written by Rust to every member, dropped for a player whose channel
 * is congested: the next one follows 50 ms later). Chat, joins and leaves go reliable through
 * the room: one publish each.
 *
 * Messages are JSON text: from a player `{t:'p',x,y}` and `{t:'c',text}`; from the server
 * `{t:'w',id}` (welcome), `{t:'j',id}`, `{t:'l',id}`, `{t:'p',id,x,y}`, `{t:'c',id,text}`.
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { serve, type Engine, type EventHandler } from 'riptide'

const ROOM = 'game'
const FIELD = { width: 480, height: 360 }
const MAX_TEXT = 200

/** A message's JSON object, or undefined when it is not one. */
function parse(data: Uint8Array): Record<string, unknown> | undefined {
  try {
    const m: unknown = JSON.parse(Buffer.from(data).toString())
    return m !== null && typeof m === 'object' && !Array.isArray(m) ? (m as Record<string, unknown>) : undefined
  } catch {
    return undefined
  }
}

/** `v` as a coordinate in `[0, max]`, or undefined when it is not a finite number. */
function coordinate(v: unknown, max: number): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? Math.round(Math.min(max, Math.max(0, v))) : undefined
}

/** The page's files and the browser client, together in one directory as an app's public folder would hold them. */
function publicDirectory(): string {
  const dir = mkdtempSync(join(tmpdir(), 'riptide-webrtc-game-'))
  for (const file of ['index.html', 'game.js']) copyFileSync(join(__dirname, file), join(dir, file))
  copyFileSync(join(__dirname, '..', '..', 'browser', 'webrtc.js'), join(dir, 'webrtc.js'))
  return dir
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { port: { type: 'string', default: process.env.PORT ?? '9208' } } })
  const dir = publicDirectory()
  let engine: Engine | undefined
  const handler: EventHandler = {
    onOpen(conn) {
      conn.write(JSON.stringify({ t: 'w', id: conn.id }))
      conn.subscribe(ROOM)
      engine?.publish(ROOM, JSON.stringify({ t: 'j', id: conn.id }))
    },
    onUnreliable(conn, data) {
      const m = parse(data)
      const x = coordinate(m?.x, FIELD.width)
      const y = coordinate(m?.y, FIELD.height)
      if (m?.t !== 'p' || x === undefined || y === undefined) return
      engine?.publish(ROOM, JSON.stringify({ t: 'p', id: conn.id, x, y }), { reliable: false })
    },
    onTraffic(conn, data) {
      const m = parse(data)
      const text = typeof m?.text === 'string' ? m.text.trim().slice(0, MAX_TEXT) : ''
      if (m?.t === 'c' && text !== '') engine?.publish(ROOM, JSON.stringify({ t: 'c', id: conn.id, text }))
    },
    onClose(conn) {
      engine?.publish(ROOM, JSON.stringify({ t: 'l', id: conn.id }))
    },
  }
  try {
    engine = await serve(`webrtc://127.0.0.1:${values.port}`, handler, { webrtc: { static: dir } })
  } catch (err) {
    rmSync(dir, { recursive: true, force: true })
    throw err
  }
  console.log(`riptide WebRTC dots on http://127.0.0.1:${engine.port}/`)
  const stop = async () => {
    await engine?.stop()
    rmSync(dir, { recursive: true, force: true })
  }
  process.once('SIGINT', () => void stop())
  process.once('SIGTERM', () => void stop())
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
