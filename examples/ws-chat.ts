/**
 * A chat room in the browser: `npx tsx examples/ws-chat.ts --port 8080` (or `PORT=8080`), then
 * open the printed URL in a few tabs (`http://127.0.0.1:8080/?name=ada` joins at once as ada).
 *
 * One engine, one port: an HTTP/1.1 listener serves the page (examples/ws-chat.html) on `/`,
 * and upgrade requests on `/chat` become WebSockets (`codecs.http1({ websocket: { routes } })`),
 * so the page opens its WebSocket on the host and port it was loaded from.
 *
 * The room is topic pub/sub: each member is subscribed to `room`, and a join, a message or a
 * leave is one `engine.publish`, framed once and queued to every member. A member's name comes
 * from the WebSocket URL's query (`/chat?name=ada`) or else from its first message. Everything
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

/** The page, and a Content-Security-Policy that admits only its own script and style. */
function page(): { body: Buffer; csp: string } {
  const html = readFileSync(join(__dirname, 'ws-chat.html'), 'utf8')
  const hash = (tag: string) => {
    const inner = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`).exec(html)?.[1] ?? ''
    return `'sha256-${createHash('sha256').update(inner).digest('base64')}'`
  }
  const csp = `default-src 'none'; script-src ${hash('script')}; style-src ${hash('style')}; connect-src ws:`
  return { body: Buffer.from(html), csp }
}

/**
 * True when a browser's `Origin` is this page, at the host the browser used (the WebSocket is
 * on the page's own host and port): other sites' pages may not join the room in their
 * visitors' names.
 */
function fromOurPage(request: UpgradeRequest): boolean {
  const origin = request.header('origin')
  if (origin === undefined) return true // not a browser: curl, wscat, a bot
  try {
    const o = new URL(origin)
    return o.protocol === 'http:' && o.host === new URL(`http://${request.header('host') ?? ''}`).host
  } catch {
    return false
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: process.env.PORT ?? '8080' },
      host: { type: 'string', default: '127.0.0.1' },
    },
  })
  let engine: Engine | undefined
  const publish = (event: Event) => engine?.publish(TOPIC, JSON.stringify(event))
  const send = (conn: WebSocketConn<string | undefined>, event: Event) => conn.write(JSON.stringify(event))
  // A member's context is its name, set once it has one.
  const enter = (conn: WebSocketConn<string | undefined>, name: string) => {
    conn.context = name
    conn.subscribe(TOPIC)
    const count = engine?.subscriberCount(TOPIC) ?? 0
    send(conn, { kind: 'welcome', name, count })
    publish({ kind: 'joined', name, count })
  }

  const { body, csp } = page()
  const headers = {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Security-Policy': csp,
    'X-Content-Type-Options': 'nosniff',
    'Cache-Control': 'no-store',
  }
  engine = await serve<string | undefined>(`tcp://${values.host}:${values.port}`, {
    // HTTP: the page on `/`; an upgrade request on /chat goes to `websocket` below.
    onTraffic(conn, frame) {
      const req = parseRequest(frame)
      const path = req.path.split('?')[0]
      if (req.method !== 'GET') conn.write(response({ status: 405, headers: { Allow: 'GET' } }))
      else if (path === '/') conn.write(response({ headers, body }))
      else conn.write(response({ status: 404, body: 'not found' }))
      if (!req.keepAlive) conn.close()
    },
    onError(conn) {
      // A request that could not be read (ERR_HTTP_*): nothing after it can be.
      conn?.write(response({ status: 400, headers: { Connection: 'close' } }))
      conn?.close()
    },
    websocket: {
      onUpgrade(conn, request) {
        if (!fromOurPage(request)) return { status: 403 }
        const q = request.path.indexOf('?')
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
        if (conn.context !== undefined) publish({ kind: 'left', name: conn.context, count: engine?.subscriberCount(TOPIC) ?? 0 })
      },
    },
  }, {
    codec: codecs.http1({ websocket: { routes: ['/chat'], maxPayload: 4096, idleTimeout: 30_000 } }),
    // A request must arrive whole within 10 s.
    frameTimeout: 10_000,
    maxConnections: 1000,
    // A member that stops reading misses messages instead of growing the server's memory.
    backpressure: { policy: 'drop', maxBackpressure: 256 * 1024 },
  })

  console.log(`riptide chat on http://${values.host}:${engine.port}/ (room on ws://${values.host}:${engine.port}/chat)`)
  const stop = () => void engine?.stop()
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}

void main()
