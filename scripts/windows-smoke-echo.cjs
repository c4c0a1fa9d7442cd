// The echo run of `npm run windows-smoke` (scripts/windows-smoke.sh), run by the Windows
// node.exe under wine. CommonJS and dependency-free on purpose: it needs nothing but the built
// `dist/` (its path is argv[2]) and node's own modules.
//
// It serves `tcp://127.0.0.1:0` with riptide (default driver: the thread driver on win32),
// connects with node:net from the same process, echoes a few payloads (one far past the 64 KiB
// read buffer, so it spans several reads and batches), checks every byte, checks that
// `Client#enroll(fd)` says ERR_UNSUPPORTED_PLATFORM on Windows, stops the engine and exits 0.
// Any failure, or a run longer than the deadline, exits 1.
'use strict'

const net = require('node:net')
const path = require('node:path')

const DEADLINE_MS = 60_000
const dist = path.resolve(process.argv[2] ?? path.join(__dirname, '..', 'dist'))

const deadline = setTimeout(() => {
  console.error(`windows-smoke: no result within ${DEADLINE_MS} ms`)
  process.exit(1)
}, DEADLINE_MS)

function log(message) {
  console.log(`windows-smoke: ${message}`)
}

/** Sends `payload` over `socket` and resolves with the same number of bytes read back. */
function roundTrip(socket, payload) {
  return new Promise((resolve, reject) => {
    const chunks = []
    let got = 0
    const onData = (chunk) => {
      chunks.push(chunk)
      got += chunk.length
      if (got >= payload.length) {
        socket.off('data', onData)
        socket.off('error', reject)
        resolve(Buffer.concat(chunks))
      }
    }
    socket.on('data', onData)
    socket.once('error', reject)
    socket.write(payload)
  })
}

async function main() {
  const riptide = require(dist)
  log(`node ${process.version} ${process.platform}-${process.arch}; riptide from ${dist}`)

  let opened = 0
  let closed = 0
  const engine = await riptide.serve('tcp://127.0.0.1:0', {
    onOpen() {
      opened++
    },
    onTraffic(conn, data) {
      conn.write(data)
    },
    onClose() {
      closed++
    },
  })
  log(`serving on 127.0.0.1:${engine.port}`)

  const socket = net.connect({ host: '127.0.0.1', port: engine.port })
  await new Promise((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })

  const big = Buffer.alloc(256 * 1024)
  for (let i = 0; i < big.length; i++) big[i] = (i * 31 + 7) & 0xff
  const payloads = [Buffer.from('hello from wine\n'), Buffer.from([0, 1, 2, 0xfe, 0xff]), big]
  for (const payload of payloads) {
    const echoed = await roundTrip(socket, payload)
    if (!echoed.equals(payload)) {
      throw new Error(`echo of ${payload.length} bytes came back as ${echoed.length} different bytes`)
    }
    log(`echoed ${payload.length} bytes`)
  }

  // enroll takes a POSIX descriptor; on Windows the binding refuses it with a typed error.
  if (process.platform === 'win32') {
    const client = new riptide.Client({})
    try {
      await client.enroll(3)
      throw new Error('enroll(fd) succeeded on Windows')
    } catch (err) {
      if (!(err instanceof riptide.UnsupportedPlatformError) || err.code !== 'ERR_UNSUPPORTED_PLATFORM') throw err
      log(`enroll(fd) refused: ${err.code}`)
    } finally {
      await client.stop()
    }
  }

  socket.end()
  await new Promise((resolve) => socket.once('close', resolve))
  await engine.stop()
  if (opened !== 1 || closed !== 1) throw new Error(`expected 1 open and 1 close, saw ${opened} and ${closed}`)
  log('engine stopped; ok')
  clearTimeout(deadline)
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error('windows-smoke: FAILED', err)
    process.exit(1)
  },
)
