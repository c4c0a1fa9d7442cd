#!/usr/bin/env node
// Packed-install check: `npm pack` riptide and this host's platform package (npm/<platform>
// with the built .node copied in, as `napi artifacts` does), install both into a fresh project
// outside the repository with no Rust on PATH, and run a tiny echo (serve + connect over
// tcp://127.0.0.1:0) from an ES module, a CommonJS module and TypeScript (`module: nodenext`,
// `strict`, `skipLibCheck: false`: typechecked with tsc, then run), and from an esbuild bundle
// (app plus the `riptide/worker` entry) run outside the project. Needs `npm run build` first.
// Keep the temp dir with PACK_CHECK_KEEP=1.
import { execFileSync } from 'node:child_process'
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createRequire } from 'node:module'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const started = Date.now()
const log = (m) => console.log(`pack-check: ${m}`)
const fail = (m) => {
  console.error(`pack-check: FAIL: ${m}`)
  process.exit(1)
}

// npm itself: the CLI that runs this script, else the one beside node.
const npmCli = process.env.npm_execpath && /npm-cli\.js$/.test(process.env.npm_execpath)
  ? process.env.npm_execpath
  : join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js')
if (!existsSync(npmCli)) fail(`cannot find npm-cli.js (tried ${npmCli})`)

// PATH without Rust: drop every directory that holds cargo or rustc.
const rustless = (process.env.PATH ?? '')
  .split(delimiter)
  .filter((d) => d && !['cargo', 'rustc', 'rustup'].some((b) => existsSync(join(d, b)) || existsSync(join(d, `${b}.exe`))))
  .join(delimiter)
const env = { ...process.env, PATH: rustless, npm_config_update_notifier: 'false' }
for (const k of Object.keys(env)) if (/^(CARGO|RUSTUP|RUSTC)/.test(k) || /^npm_(package|lifecycle)_/.test(k)) delete env[k]

const run = (file, args, cwd) => execFileSync(file, args, { cwd, env, stdio: ['ignore', 'pipe', 'inherit'], timeout: 60_000 }).toString()
const npm = (args, cwd) => run(process.execPath, [npmCli, ...args], cwd)

// This host's platform package (the same choice the generated loader makes).
function isMusl() {
  if (process.platform !== 'linux') return false
  try {
    return readFileSync('/usr/bin/ldd', 'utf8').includes('musl')
  } catch {
    return !process.report?.getReport()?.header?.glibcVersionRuntime
  }
}
const platform = readdirSync(join(root, 'npm')).find((d) => {
  const p = JSON.parse(readFileSync(join(root, 'npm', d, 'package.json'), 'utf8'))
  if (!p.os?.includes(process.platform) || !p.cpu?.includes(process.arch)) return false
  return p.libc === undefined || p.libc.includes(isMusl() ? 'musl' : 'glibc')
})
if (platform === undefined) fail(`no npm/<platform> package for ${process.platform}-${process.arch}`)
const platformPkg = JSON.parse(readFileSync(join(root, 'npm', platform, 'package.json'), 'utf8'))
const nodeFile = platformPkg.main
for (const f of [nodeFile, 'binding.js', 'binding.d.ts', 'dist/index.js', 'dist/index.d.ts', 'dist/binding.js']) {
  if (!existsSync(join(root, f))) fail(`${f} is missing: run \`npm run build\` first`)
}

const tmp = mkdtempSync(join(tmpdir(), 'riptide-pack-check-'))
try {
  // 1. The tarballs.
  const packed = JSON.parse(npm(['pack', '--json', '--pack-destination', tmp], root))[0]
  const files = packed.files.map((f) => f.path)
  for (const need of ['LICENSE', 'README.md', 'package.json', 'dist/index.js', 'dist/index.d.ts', 'dist/binding.js', 'dist/binding.d.ts', 'dist/lib/native.js', 'dist/lib/native.d.ts', 'dist/lib/worker.js', 'dist/lib/prometheus.js', 'dist/lib/prometheus.d.ts', 'browser/webrtc.js', 'browser/webrtc.d.ts', 'browser/package.json']) {
    if (!files.includes(need)) fail(`the tarball lacks ${need}`)
  }
  const stray = files.filter((f) => f.endsWith('.node') || /^(lib|__test__|crates|bench|examples)\//.test(f) || f.endsWith('.ts') && !f.endsWith('.d.ts') || f.endsWith('tsconfig.json'))
  if (stray.length > 0) fail(`the tarball ships ${stray.join(', ')}`)
  const internals = ['slot', 'generation'].filter((m) => new RegExp(`readonly ${m}\\b`).test(readFileSync(join(root, 'dist/lib/conn.d.ts'), 'utf8')))
  if (internals.length > 0) fail(`@internal members in the public types: ${internals.join(', ')}`)
  log(`${packed.filename}: ${files.length} files, ${packed.size} bytes packed`)

  const stage = join(tmp, 'stage', platform)
  cpSync(join(root, 'npm', platform), stage, { recursive: true })
  copyFileSync(join(root, nodeFile), join(stage, nodeFile))
  const platformPacked = JSON.parse(npm(['pack', '--json', '--pack-destination', tmp], stage))[0]
  if (!platformPacked.files.some((f) => f.path === nodeFile)) fail(`${platformPacked.filename} lacks ${nodeFile}`)
  log(`${platformPacked.filename}: ${platformPacked.size} bytes packed`)

  // 2. A consumer project outside the repository. @types/node and typescript are the repo's own
  // (linked, so nothing is fetched); riptide and its platform package come from the tarballs.
  // riptide's own dependencies (piscina) are linked from the repo's node_modules too: `npm ci`
  // fetched them without the registry metadata an offline install of a version range needs.
  const app = join(tmp, 'app')
  mkdirSync(app)
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'riptide-pack-check-app', version: '1.0.0', private: true }, null, 2))
  const dependencies = Object.keys(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).dependencies ?? {})
  npm(['install', '--offline', '--no-audit', '--no-fund', '--no-package-lock',
    join(tmp, packed.filename), join(tmp, platformPacked.filename), join(root, 'node_modules', '@types', 'node'),
    ...dependencies.map((d) => join(root, 'node_modules', d))], app)
  try {
    run('cargo', ['--version'], app)
    fail('cargo is still on PATH')
  } catch (e) {
    if (e.code !== 'ENOENT') throw e
  }

  // The ES module serves with two reactors: the second runs dist/lib/worker.js from the package
  // and loads handler.mjs.
  const body = (kind) => `
${kind === 'esm' ? '' : `const handler = {
  onTraffic(conn${kind === 'ts' ? ': Conn' : ''}, data${kind === 'ts' ? ': Uint8Array' : ''}) {
    conn.write(data)
  },
}
`}const engine = await serve('tcp://127.0.0.1:0', handler${kind === 'esm' ? ", { reactors: 2, workerModule: new URL('./handler.mjs', import.meta.url).href }" : ''})
const payload = Buffer.from('riptide pack-check ${kind} '.repeat(100))
const got = await new Promise${kind === 'ts' ? '<Buffer>' : ''}((resolve, reject) => {
  const chunks${kind === 'ts' ? ': Buffer[]' : ''} = []
  let n = 0
  const timer = setTimeout(() => reject(new Error('no echo within 10 s')), 10_000)
  connect(\`tcp://127.0.0.1:\${engine.port}\`, {
    onTraffic(conn, data) {
      chunks.push(Buffer.from(data))
      n += data.length
      if (n >= payload.length) {
        clearTimeout(timer)
        resolve(Buffer.concat(chunks))
        conn.close()
      }
    },
    onClose(_conn, err) {
      if (err !== undefined) reject(err)
    },
  }).then((conn) => conn.write(payload), reject)
})
if (!got.equals(payload)) throw new Error('echo mismatch')
await engine.stop()
console.log('${kind}: echoed', got.length, 'bytes')
`
  writeFileSync(join(app, 'handler.mjs'), 'export const handler = {\n  onTraffic(conn, data) {\n    conn.write(data)\n  },\n}\n')
  writeFileSync(join(app, 'echo.mjs'), `import { connect, serve } from 'riptide'\nimport { handler } from './handler.mjs'\n${body('esm')}`)
  writeFileSync(join(app, 'echo.cjs'), `const { connect, serve } = require('riptide')\n;(async () => {\n${body('cjs')}\n})().catch((err) => {\n  console.error(err)\n  process.exit(1)\n})\n`)
  writeFileSync(join(app, 'echo.mts'), `import { connect, serve, type Conn } from 'riptide'\n${body('ts')}`)
  writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, skipLibCheck: false, types: ['node'], outDir: 'out' },
    files: ['echo.mts'],
  }, null, 2))

  for (const f of ['echo.mjs', 'echo.cjs']) log(run(process.execPath, [f], app).trim())
  run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], app)
  log('tsc (nodenext, strict, skipLibCheck: false): clean')
  log(run(process.execPath, [join('out', 'echo.mjs')], app).trim())

  // The browser client, as a web app takes it: typechecked against the DOM library with a
  // bundler's resolution, and bundled for the browser by esbuild from the package's export.
  writeFileSync(join(app, 'page.ts'), `import { connect, SignallingError, type Peer } from 'riptide/browser/webrtc'
const peer: Peer = await connect('http://127.0.0.1:9208', { timeout: 5000 })
peer.onTraffic = (data: Uint8Array | string) => console.log(data, new SignallingError(404, 'x').status)
peer.send(new Uint8Array([1]), { reliable: false })
`)
  writeFileSync(join(app, 'tsconfig.browser.json'), JSON.stringify({
    compilerOptions: { module: 'esnext', moduleResolution: 'bundler', target: 'es2022', lib: ['es2022', 'dom'], strict: true, skipLibCheck: false, types: [], noEmit: true },
    files: ['page.ts'],
  }, null, 2))
  run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.browser.json'], app)
  const pageBundle = createRequire(import.meta.url)('esbuild').buildSync({
    absWorkingDir: app, entryPoints: ['page.ts'], bundle: true, platform: 'browser', format: 'esm', write: false, logLevel: 'warning',
  })
  if (!pageBundle.outputFiles[0].text.includes('RTCPeerConnection')) fail('the browser bundle lacks the client')
  log('riptide/browser/webrtc: tsc (bundler, DOM, strict) clean, esbuild browser bundle built')

  // 3. A bundle: esbuild folds the CommonJS app and riptide into bundle/app.js and builds the
  // `riptide/worker` export as the second entry bundle/worker.js, where the engine looks for
  // it (beside the code that starts it). Run from a copy outside the project, so nothing comes
  // from node_modules; two reactors, one connection each: the reply without `main:` came from
  // the worker reactor running bundle/worker.js.
  writeFileSync(join(app, 'bundle.cjs'), `const { connect, serve } = require('riptide')
const { join } = require('node:path')
;(async () => {
  const engine = await serve('tcp://127.0.0.1:0', { onTraffic(conn, data) { conn.write('main:' + Buffer.from(data)) } }, {
    reactors: 2,
    workerModule: join(__dirname, 'handler.mjs'),
  })
  const replies = []
  for (const word of ['a', 'b']) {
    replies.push(await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no echo within 10 s')), 10_000)
      connect(\`tcp://127.0.0.1:\${engine.port}\`, {
        onTraffic(conn, data) {
          clearTimeout(timer)
          resolve(Buffer.from(data).toString())
          conn.close()
        },
      }).then((conn) => conn.write(word), reject)
    }))
  }
  await engine.stop()
  if (replies.sort().join(',') !== 'b,main:a' && replies.sort().join(',') !== 'a,main:b') throw new Error('replies: ' + replies.join(','))
  console.log('bundle: both reactors echoed:', replies.join(', '))
})().catch((err) => {
  console.error(err)
  process.exit(1)
})
`)
  const esbuild = createRequire(import.meta.url)('esbuild')
  esbuild.buildSync({
    absWorkingDir: app,
    entryPoints: { app: 'bundle.cjs', worker: 'riptide/worker' },
    bundle: true,
    platform: 'node',
    outdir: 'bundle',
    loader: { '.node': 'copy' },
    logLevel: 'warning',
  })
  const bundled = join(tmp, 'bundled')
  cpSync(join(app, 'bundle'), bundled, { recursive: true })
  copyFileSync(join(app, 'handler.mjs'), join(bundled, 'handler.mjs'))
  log(run(process.execPath, [join(bundled, 'app.js')], bundled).trim())
  log(`passed in ${((Date.now() - started) / 1000).toFixed(1)} s`)
} finally {
  if (process.env.PACK_CHECK_KEEP) log(`kept ${tmp}`)
  else rmSync(tmp, { recursive: true, force: true })
}
