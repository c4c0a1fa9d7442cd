// examples/webrtc-game in a real browser: its server (one riptide engine, `webrtc://` with
// `webrtc.static`) serves the page, and two headless Chromium tabs play. Each tab connects
// with riptide's browser client, is welcomed with its player id, sees the other player's
// position (sent unreliable, relayed by an unreliable room publish), gets the other's chat
// (reliable room publish), and is told when the other leaves.
// RIPTIDE_SCREENSHOT=1 writes the first tab to docs/webrtc-game.png.

import test from 'ava'
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Browser, CHROMIUM_MISSING, findChromium, WEBRTC_LOOPBACK_FLAGS, type Tab } from './cdp'

const root = join(__dirname, '..')
const chromium = findChromium()
const gameTest = chromium === undefined ? test.skip : test.serial
const skipped = chromium === undefined ? ` (skipped: ${CHROMIUM_MISSING})` : ''

/** What a tab shows: its player id (-1 until welcomed), the ids it has positions of, and its chat log. */
interface View {
  me: number
  others: number[]
  log: string[]
}

/** Polls the async `cond` every 50 ms until it holds; throws after `ms`. */
async function eventually(cond: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

const view = (tab: Tab): Promise<View> =>
  tab.evaluate<View>(
    // The page may still be loading (no #status yet): that reads as not yet welcomed.
    `(() => { const d = globalThis.dots; const s = document.getElementById('status'); if (d === undefined || s === null) return { me: -1, others: [], log: [] }; const w = /you are player (\\d+)/.exec(s.textContent); return { me: w === null ? -1 : Number(w[1]), others: [...d.others.keys()], log: [...document.querySelectorAll('#log li')].map((li) => li.textContent) } })()`,
  )

gameTest(`two Chromium tabs play examples/webrtc-game served by riptide: welcome, positions, chat, leave${skipped}`, async (t) => {
  t.timeout(120_000)
  const server = spawn(process.execPath, ['--import', 'tsx', join('examples', 'webrtc-game', 'server.ts'), '--port', '0'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  t.teardown(() => void server.kill('SIGTERM'))
  const url = await new Promise<string>((resolve, reject) => {
    let out = ''
    server.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      const m = /on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out)
      if (m !== null) resolve(m[1])
    })
    server.once('exit', (code) => reject(new Error(`the game server exited (${code}): ${out}`)))
  })

  const browser = await Browser.launch(chromium!, WEBRTC_LOOPBACK_FLAGS)
  t.teardown(() => browser.stop())
  const welcomed = async (tab: Tab): Promise<number> => {
    await eventually(async () => (await view(tab)).me >= 0, 20_000, 'welcomed')
    return (await view(tab)).me
  }
  // Tab b opens once a is in the room, so a is the first player and is told that b joined
  // (tabs opened together may reach the server in either order).
  const a = await browser.open(url, 720, 560)
  const idA = await welcomed(a)
  const b = await browser.open(url, 720, 560)
  const idB = await welcomed(b)
  t.not(idA, idB)
  await eventually(async () => (await view(a)).others.includes(idB) && (await view(b)).others.includes(idA), 20_000, 'positions')
  t.pass('each tab has the other player position, over the unreliable channel and an unreliable room publish')

  await a.evaluate(`(() => { document.getElementById('text').value = 'hello from a'; document.getElementById('chat').requestSubmit(); })()`)
  await eventually(async () => (await view(b)).log.includes(`player ${idA}: hello from a`), 10_000, 'chat')
  t.true((await view(a)).log.includes('you: hello from a'), 'the sender sees its own chat line from the room')
  t.true((await view(a)).log.includes(`player ${idB} joined`), 'the first player was told of the second')

  if (process.env.RIPTIDE_SCREENSHOT === '1') {
    const png = await a.screenshot()
    writeFileSync(join(root, 'docs', 'webrtc-game.png'), png)
    t.log(`screenshot: docs/webrtc-game.png (${png.length} bytes)`)
  }
  await b.close()
  await eventually(async () => (await view(a)).log.includes(`player ${idB} left`), 45_000, 'leave')
  t.pass('the first tab is told the second left')
})
