/**
 * A chat room in the browser: `npx tsx examples/ws-chat.ts --port 8080` (or `PORT=8080`), then
 * open the printed URL in a few tabs (`http://127.0.0.1:8080/?name=ada` joins at once as ada).
 *
 * One process, two engines: an HTTP/1.1 one serves the page (examples/ws-chat.html) and a
 * WebSocket one runs the room on a second port (`--ws-port`, default any free one), which the
 * page learns from a `<meta>` tag. `codecs.websocket()` is a server-wide codec (the upgrade is
 * its own handshake, not an HTTP route), so the page cannot come from the same listener.
 *
 * The room is topic pub/sub: each member is subscribed to `room`, and a join, a message or a
 * leave is one `engine.publish`, framed once and queued to every member. A member's name comes
 * from the WebSocket URL's query (`/room?name=ada`) or else from its first message. Everything
 * the server sends is JSON (`{ kind, name, text, count }`) that the page shows as text.
 */
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { codecs, parseRequest, response, serve, type Engine, type UpgradeRequest, type WebSocketConn } from 'riptide'

const TOPIC = 'room'
const MAX_NAME = 24
const MAX_TEXT = 500

/** What the server sends: a member's own welcome, a join or leave notice, a message, an error. */
type Event =
  | { kind: 'welcome' | 'joined' | 'left'; name: string; count: number }
  | { kind: 'message'; name: string; text: string }
  | { kind: 'error'; text: string }

/** `raw` trimmed, when it is 1 to `max` characters with no control or format characters. */
function clean(raw: string | null | undefined, max: number): string | undefined {
  const s = raw?.trim() ?? ''
  const length = [...s].length
  return length >= 1 && length <= max && !/\p{C}/u.test(s) ? s : undefined
}

/** The page with the room's port filled in, and a Content-Security-Policy that admits only its own script and style. */
function page(roomPort: number): { body: Buffer; csp: string } {
  const html = readFileSync(join(__dirname, 'ws-chat.html'), 'utf8').replace('ROOM_PORT', String(roomPort))
  const hash = (tag: string) => {
    const inner = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`).exec(html)?.[1] ?? ''
    return `'sha256-${createHash('sha256').update(inner).digest('base64')}'`
  }
  const csp = `default-src 'none'; script-src ${hash('script')}; style-src ${hash('style')}; connect-src ws:`
  return { body: Buffer.from(html), csp }
}

/**
 * True when a browser's `Origin` is the page this process serves, at the host the browser
 * used: other sites' pages may not join the room in their visitors' names.
 */
function fromOurPage(request: UpgradeRequest, pagePort: number | undefined): boolean {
  const origin = request.header('origin')
  if (origin === undefined) return true // not a browser: curl, wscat, a bot
  try {
    const o = new URL(origin)
    const host = new URL(`http://${request.header('host') ?? ''}`).hostname
    return o.protocol === 'http:' && o.hostname === host && Number(o.port || 80) === pagePort
  } catch {
    return false
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: process.env.PORT ?? '8080' },
      'ws-port': { type: 'string', default: '0' },
      host: { type: 'string', default: '127.0.0.1' },
    },
  })
  let pagePort: number | undefined
  let room: Engine | undefined
  const publish = (event: Event) => room?.publish(TOPIC, JSON.stringify(event))
  const send = (conn: WebSocketConn<string | undefined>, event: Event) => conn.write(JSON.stringify(event))
  // A member's context is its name, set once it has one.
  const enter = (conn: WebSocketConn<string | undefined>, name: string) => {
    conn.context = name
    conn.subscribe(TOPIC)
    const count = room?.subscriberCount(TOPIC) ?? 0
    send(conn, { kind: 'welcome', name, count })
    publish({ kind: 'joined', name, count })
  }

  room = await serve<string | undefined>(`tcp://${values.host}:${values['ws-port']}`, {
    onUpgrade(conn, request) {
      const q = request.path.indexOf('?')
      if ((q < 0 ? request.path : request.path.slice(0, q)) !== '/room') return { status: 404 }
      if (!fromOurPage(request, pagePort)) return { status: 403 }
      const query = new URLSearchParams(q < 0 ? '' : request.path.slice(q + 1))
      if (!query.has('name')) return
      const name = clean(query.get('name'), MAX_NAME)
      if (name === undefined) return { status: 400 }
      conn.context = name
    },
    onOpen(conn) {
      if (conn.context !== undefined) enter(conn, conn.context)
    },
    onTraffic(conn, message, { binary }) {
      const text = binary ? undefined : Buffer.from(message).toString()
      if (conn.context === undefined) {
        const name = clean(text, MAX_NAME)
        if (name !== undefined) return enter(conn, name)
        send(conn, { kind: 'error', text: `a name is 1 to ${MAX_NAME} characters of text` })
        return conn.close(1008, 'bad name')
      }
      const said = clean(text, MAX_TEXT)
      if (said === undefined) send(conn, { kind: 'error', text: `a message is 1 to ${MAX_TEXT} characters of text` })
      else publish({ kind: 'message', name: conn.context, text: said })
    },
    onClose(conn) {
      // The connection's subscription is gone already: the count is of those still here.
      if (conn.context !== undefined) publish({ kind: 'left', name: conn.context, count: room?.subscriberCount(TOPIC) ?? 0 })
    },
  }, {
    codec: codecs.websocket({ maxPayload: 4096, idleTimeout: 30_000 }),
    maxConnections: 1000,
    // A member that stops reading misses messages instead of growing the server's memory.
    backpressure: { policy: 'drop', maxBackpressure: 256 * 1024 },
  })

  const { body, csp } = page(room.port)
  const headers = {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Security-Policy': csp,
    'X-Content-Type-Options': 'nosniff',
    'Cache-Control': 'no-store',
  }
  const site = await serve(`tcp://${values.host}:${values.port}`, {
    onTraffic(conn, frame) {
      const req = parseRequest(frame)
      const path = req.path.split('?')[0]
      if (req.method !== 'GET') conn.write(response({ status: 405, headers: { Allow: 'GET' } }))
      else if (path === '/') conn.write(response({ headers, body }))
      else conn.write(response({ status: 404, body: 'not found' }))
      if (!req.keepAlive) conn.close()
    },
    onError(conn) {
      conn?.write(response({ status: 400, headers: { Connection: 'close' } }))
      conn?.close()
    },
  }, { codec: codecs.http1(), frameTimeout: 10_000 })
  pagePort = site.port

  console.log(`riptide chat on http://${values.host}:${site.port}/ (room on ws://${values.host}:${room.port}/room)`)
  const stop = () => void Promise.all([site.stop(), room?.stop()])
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}

void main()
