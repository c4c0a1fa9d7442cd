// The page of examples/webrtc-game: one WebRTC peer to the server that served it. Positions go
// 20 times a second on the unreliable channel (a lost one is replaced 50 ms later); chat goes on
// the reliable one. Everything is JSON text; what the server sends is shown as text, never markup.
import { connect } from 'riptide/browser/webrtc'

const FIELD = { width: 480, height: 360 }
const SPEED = 160 // pixels per second
const status = /** @type {HTMLElement} */ (document.getElementById('status'))
const canvas = /** @type {HTMLCanvasElement} */ (document.getElementById('field'))
const draw = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d'))
const log = /** @type {HTMLUListElement} */ (document.getElementById('log'))
const form = /** @type {HTMLFormElement} */ (document.getElementById('chat'))
const input = /** @type {HTMLInputElement} */ (document.getElementById('text'))

/** @type {Map<number, { x: number, y: number }>} The other players' last known positions. */
const others = new Map()
const me = { id: 0, x: 40 + Math.random() * (FIELD.width - 80), y: 40 + Math.random() * (FIELD.height - 80) }
// For the console and the browser test (__test__/webrtc-game.spec.ts): who is where.
Object.assign(globalThis, { dots: { me, others } })
/** @type {Set<string>} Movement keys held down. */
const held = new Set()

/** @param {string} text @param {string} [kind] */
function say(text, kind = '') {
  const li = document.createElement('li')
  li.textContent = text
  li.className = kind
  log.append(li)
  li.scrollIntoView({ block: 'end' })
}

/** A stable colour per player id. @param {number} id */
const colour = (id) => `hsl(${(id * 137) % 360} 65% 48%)`

/** @param {Uint8Array | string} data */
function parse(data) {
  try {
    return JSON.parse(typeof data === 'string' ? data : new TextDecoder().decode(data))
  } catch {
    return undefined
  }
}

/** @param {{ code?: string, message: string }} err @returns {never} */
function failed(err) {
  status.textContent = `could not connect: ${err.code ?? ''} ${err.message}`
  throw err
}
/** @type {import('riptide/browser/webrtc').Peer} */
const peer = await connect(location.origin).catch(failed)
status.textContent = 'connected'

peer.onUnreliable = (data) => {
  const m = parse(data)
  if (m?.t === 'p' && m.id !== me.id) others.set(m.id, { x: m.x, y: m.y })
}
peer.onTraffic = (data) => {
  const m = parse(data)
  if (m?.t === 'w') {
    me.id = m.id
    status.textContent = `you are player ${m.id}`
  } else if (m?.t === 'j' && m.id !== me.id) say(`player ${m.id} joined`, 'notice')
  else if (m?.t === 'l') {
    others.delete(m.id)
    say(`player ${m.id} left`, 'notice')
  } else if (m?.t === 'c') say(`${m.id === me.id ? 'you' : `player ${m.id}`}: ${m.text}`)
}
peer.onClose = (reason) => {
  status.textContent = `disconnected (${reason})`
}

const KEYS = { ArrowLeft: 'l', ArrowRight: 'r', ArrowUp: 'u', ArrowDown: 'd', a: 'l', d: 'r', w: 'u', s: 'd' }
/** @param {KeyboardEvent} e */
const key = (e) => /** @type {Record<string, string>} */ (KEYS)[e.key.length === 1 ? e.key.toLowerCase() : e.key]
addEventListener('keydown', (e) => {
  if (e.target === input || key(e) === undefined) return
  held.add(key(e))
  e.preventDefault()
})
addEventListener('keyup', (e) => held.delete(key(e)))
addEventListener('blur', () => held.clear())

form.addEventListener('submit', (e) => {
  e.preventDefault()
  const text = input.value.trim()
  if (text !== '' && !peer.closed) peer.write(JSON.stringify({ t: 'c', text }))
  input.value = ''
})

setInterval(() => {
  if (!peer.closed) peer.send(JSON.stringify({ t: 'p', x: Math.round(me.x), y: Math.round(me.y) }), { reliable: false })
}, 50)

/** @param {number} id @param {{ x: number, y: number }} p @param {boolean} self */
function dot(id, p, self) {
  draw.fillStyle = colour(id)
  draw.beginPath()
  draw.arc(p.x, p.y, self ? 9 : 7, 0, 2 * Math.PI)
  draw.fill()
  if (self) {
    draw.strokeStyle = '#1b2733'
    draw.stroke()
  }
  draw.fillStyle = '#1b2733'
  draw.fillText(self ? 'you' : String(id), p.x + 11, p.y + 4)
}

let last = performance.now()
/** @param {number} now */
function frame(now) {
  const dt = Math.min(0.1, (now - last) / 1000)
  last = now
  const dx = (held.has('r') ? 1 : 0) - (held.has('l') ? 1 : 0)
  const dy = (held.has('d') ? 1 : 0) - (held.has('u') ? 1 : 0)
  me.x = Math.max(8, Math.min(FIELD.width - 8, me.x + dx * SPEED * dt))
  me.y = Math.max(8, Math.min(FIELD.height - 8, me.y + dy * SPEED * dt))
  draw.clearRect(0, 0, FIELD.width, FIELD.height)
  for (const [id, p] of others) dot(id, p, false)
  dot(me.id, me, true)
  requestAnimationFrame(frame)
}
requestAnimationFrame(frame)
canvas.focus()
