// examples/ws-chat.ts in a real browser: headless Chromium (Debian's `chromium`, which .ci/run
// installs) loads the page from the example's one engine, and two tabs join the room on the
// same port (an upgrade on /chat: one joins by the page's query, one by typing a name, which
// goes as the first message), each sends and each shows the other's message as text; closing
// a tab leaves. The test drives the DevTools protocol (__test__/cdp.ts) and writes a
// screenshot to target/ws-chat-browser/.

import test from 'ava'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Browser, CHROMIUM_MISSING, findChromium, type Tab } from './cdp'

const root = join(__dirname, '..')
const chromium = findChromium()

/** Starts the example on a free port; resolves with its page and room URLs once it prints them. */
function startExample(): Promise<{ child: ChildProcess; url: string; room: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'examples', 'ws-chat.ts'), '--port', '0'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  return new Promise((resolve, reject) => {
    let out = ''
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      const m = /riptide chat on (http:\/\/\S+) \(room on (ws:\/\/\S+)\)/.exec(out)
      if (m !== null) resolve({ child, url: m[1], room: m[2] })
    })
    child.once('error', reject)
    child.once('exit', (code) => reject(new Error(`the example exited (${code}): ${out}`)))
  })
}

/** Stops the example with SIGTERM (it stops its engine) and waits for it to exit. */
async function stopExample(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  child.kill('SIGTERM')
  return exited
}

/** A page's chat as it shows: each line's class and its parts' text, and the status line. */
interface View {
  status: string
  lines: Array<{ kind: string; parts: string[] }>
  /** Elements inside the log other than the page's own `li` and `span` (markup from a message would show up here). */
  foreign: number
}

function view(tab: Tab): Promise<View> {
  // Before the page has loaded (the tab starts at about:blank) it shows nothing.
  return tab.evaluate<View>(`(() => {
    const log = document.getElementById('log')
    if (log === null) return { status: '', lines: [], foreign: 0 }
    return {
      status: document.getElementById('status').textContent,
      lines: [...log.children].map((li) => ({ kind: li.className, parts: [...li.children].map((s) => s.textContent) })),
      foreign: log.querySelectorAll(':not(li):not(span)').length,
    }
  })()`)
}

/** Polls the page until `ok(view)`; fails with the last view after 30 s (a hang, not a speed check). */
async function waitFor(tab: Tab, what: string, ok: (v: View) => boolean): Promise<View> {
  const deadline = Date.now() + 30_000
  for (;;) {
    const v = await view(tab)
    if (ok(v)) return v
    if (Date.now() > deadline) throw new Error(`waiting for ${what}; the page shows ${JSON.stringify(v)}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** Types `text` into the input `#id` and presses its form's button, as a person would. */
async function type(tab: Tab, id: string, text: string): Promise<void> {
  await tab.evaluate(`document.getElementById(${JSON.stringify(id)}).focus()`)
  await tab.send('Input.insertText', { text })
  await tab.evaluate(`document.getElementById(${JSON.stringify(id)}).form.querySelector('button').click()`)
}

const has = (v: View, kind: string, ...parts: string[]) => v.lines.some((l) => l.kind === kind && JSON.stringify(l.parts) === JSON.stringify(parts))

const browserTest = chromium === undefined ? test.skip : test.serial
const skipped = chromium === undefined ? ` (skipped: ${CHROMIUM_MISSING})` : ''

browserTest(`two Chromium tabs join the chat room, exchange messages shown as text, and see a leave${skipped}`, async (t) => {
  const example = await startExample()
  t.teardown(() => stopExample(example.child))
  const browser = await Browser.launch(chromium!)
  t.teardown(() => browser.stop())

  // ada joins through the page's query; bob types his name, which goes as the first message.
  const ada = await browser.open(`${example.url}?name=ada`, 560, 420)
  await waitFor(ada, 'ada to join', (v) => v.status === 'you are ada · 1 here')
  // One port: the page's WebSocket is on the host and port it was loaded from, route /chat.
  const page = new URL(example.url)
  t.is(new URL(example.room).host, page.host)
  t.is(await ada.evaluate<string>('socket.url'), `ws://${page.host}/chat?name=ada`)
  const bob = await browser.open(example.url, 560, 420)
  await waitFor(bob, 'the name form', (v) => v.status === 'not connected')
  await type(bob, 'name', 'bob')
  await waitFor(bob, 'bob to join', (v) => v.status === 'you are bob · 2 here')
  await waitFor(ada, 'bob to be announced', (v) => has(v, 'notice', 'bob joined · 2 here') && v.status === 'you are ada · 2 here')

  const markup = '<b>bold?</b> & <img src=x onerror="document.title=1"> stays text'
  await type(ada, 'text', 'hello from ada')
  await type(bob, 'text', markup)
  const seenByBob = await waitFor(bob, "ada's message", (v) => has(v, 'message', 'ada', 'hello from ada') && has(v, 'message', 'bob', markup))
  const seenByAda = await waitFor(ada, "bob's message", (v) => has(v, 'message', 'bob', markup) && has(v, 'message', 'ada', 'hello from ada'))
  t.is(seenByAda.foreign, 0, 'no element was made from a message')
  t.is(seenByBob.foreign, 0)
  t.is(await ada.evaluate<string>('document.title'), 'riptide chat', 'no script ran from a message')
  // Both saw the two messages in the same order: the room's one publish order.
  const messages = (v: View) => v.lines.filter((l) => l.kind === 'message').map((l) => l.parts.join(' '))
  t.deepEqual(messages(seenByAda), messages(seenByBob))

  await bob.close()
  const last = await waitFor(ada, 'bob to leave', (v) => has(v, 'notice', 'bob left · 1 here') && v.status === 'you are ada · 1 here')
  t.deepEqual(
    last.lines.map((l) => l.parts.join(' ')),
    ['ada joined · 1 here', 'bob joined · 2 here', ...messages(seenByAda), 'bob left · 1 here'],
  )

  const dir = join(root, 'target', 'ws-chat-browser')
  mkdirSync(dir, { recursive: true })
  const png = await ada.screenshot()
  t.deepEqual([...png.subarray(1, 4)], [...Buffer.from('PNG')])
  writeFileSync(join(dir, 'ada.png'), png)
  t.log(`screenshot: ${join(dir, 'ada.png')} (${png.length} bytes)`)
  t.is(await stopExample(example.child), 0, 'the example stops cleanly on SIGTERM')
})
