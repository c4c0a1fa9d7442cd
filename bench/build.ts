/**
 * Builds what a benchmark run needs: riptide (`npm run build`), the load generator, the lossy
 * relay and the K3 tunnel (`npm run build:bench`: one `cargo build --release` of riptide-bench,
 * riptide-net-netsim and riptide-tunnel), the gnet and kcp-go peers (`go build`), the C floor,
 * the io_uring floor (`cargo build` of bench/peers/uring-floor)
 * and, for `--loadgen c`, the C echo load generator (`cc`), the Go K3 tunnel (`go build` of
 * tests/interop/kcptun) and the
 * uWebSockets.js peer (bench/uws.ts: `npm pack` of its npm republish, plus a glibc shim built
 * with `cc` when its binary needs a newer glibc). Outputs go to target/ (gitignored). A peer
 * whose build fails is reported as not runnable, with the reason.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { LOADGEN, ROOT } from './harness'
import { BUILD_DIR, C_FLOOR_BIN, C_LOADGEN_BIN, GNET_BIN, KCPGO_BIN, KCPTUN_BIN, PEERS_TARGET_DIR, PION_WEBRTC_BIN, RELAY_BIN } from './peers'
import { UWS_PACKAGE, UWS_VERSION } from './uws'

/** What the build produced: a reason per peer id (or `relay`) that could not be built. */
export type BuildFailures = Map<string, string>

interface Step {
  /** Peer ids (or `relay`, `loadgen`) this step serves. */
  serves: string[]
  title: string
  /** A reason the step cannot even be tried, if any. */
  precondition?: () => string | undefined
  cmd: string
  args: string[]
  cwd?: string
}

const have = (tool: string): boolean => spawnSync(tool, ['--version'], { stdio: 'ignore' }).status === 0 || spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status === 0

const STEPS: Step[] = [
  // `npm run build:bench`: one cargo invocation for every Rust binary, in the addon's target
  // directory (`--target <host>`, as `napi build` does) and with the addon's crate selected:
  // cargo unifies features over the packages of one invocation, and built alone the bench
  // crates turn off features the addon's tree turns on (once_cell, smallvec, syn), which
  // rebuilt every crate above them a second and a third time (183 s and 93 s in CI's smoke
  // run). The addon's crate itself is compiled again by `napi build` (it sets its own env).
  {
    serves: ['loadgen', 'riptide-rust', 'riptide-secure', 'riptide-salsa20', 'relay', 'riptide-tunnel'],
    title: 'load generator, lossy relay and riptide-tunnel (npm run build:bench)',
    cmd: 'npm',
    args: ['run', '--silent', 'build:bench'],
  },
  { serves: ['riptide', 'riptide-thread', 'riptide-context'], title: 'riptide (npm run build)', cmd: 'npm', args: ['run', '--silent', 'build'] },
  {
    serves: ['gnet'],
    title: 'gnet peer (go build)',
    precondition: () => (have('go') ? undefined : 'Go toolchain not found (install Go >= 1.22)'),
    cmd: 'go',
    args: ['build', '-o', GNET_BIN, '.'],
    cwd: join(ROOT, 'bench', 'peers', 'gnet'),
  },
  {
    serves: ['c-floor'],
    title: 'C floor (cc -O2)',
    precondition: () => (have('cc') ? undefined : 'no C compiler (`cc`) found'),
    cmd: 'cc',
    args: ['-O2', '-o', C_FLOOR_BIN, join(ROOT, 'bench', 'peers', 'c-epoll', 'floor.c')],
  },
  {
    serves: ['uring-floor'],
    title: 'io_uring floor (cargo build --release in bench/peers/uring-floor)',
    precondition: () => (process.platform === 'linux' ? undefined : 'io_uring is Linux only'),
    cmd: 'cargo',
    args: ['build', '--release', '--locked', '--manifest-path', join(ROOT, 'bench', 'peers', 'uring-floor', 'Cargo.toml'), '--target-dir', PEERS_TARGET_DIR],
  },
  {
    serves: ['c-loadgen'],
    title: 'C echo load generator (cc -O2)',
    precondition: () => (have('cc') ? undefined : 'no C compiler (`cc`) found'),
    cmd: 'cc',
    args: ['-O2', '-o', C_LOADGEN_BIN, join(ROOT, 'bench', 'peers', 'c-epoll', 'load.c')],
  },
  {
    serves: ['kcp-go', 'kcp-go-gcm', 'kcp-go-salsa20', 'riptide-salsa20'],
    title: 'kcp-go peer (go build)',
    precondition: () =>
      !existsSync(join(ROOT, 'tests', 'interop', 'kcp-go', 'main.go'))
        ? 'tests/interop/kcp-go is not in this checkout'
        : have('go')
          ? undefined
          : 'Go toolchain not found (install Go >= 1.22)',
    cmd: 'go',
    args: ['build', '-o', KCPGO_BIN, '.'],
    cwd: join(ROOT, 'tests', 'interop', 'kcp-go'),
  },
  {
    serves: ['kcptun-go'],
    title: 'Go kcptun stand-in (go build)',
    precondition: () => (have('go') ? undefined : 'Go toolchain not found (install Go >= 1.22)'),
    cmd: 'go',
    args: ['build', '-o', KCPTUN_BIN, '.'],
    cwd: join(ROOT, 'tests', 'interop', 'kcptun'),
  },
  {
    serves: ['pion', 'pion-webrtc'],
    title: 'pion/webrtc load generator and echo server (go build)',
    precondition: () => (have('go') ? undefined : 'Go toolchain not found (install Go >= 1.22)'),
    cmd: 'go',
    args: ['build', '-o', PION_WEBRTC_BIN, '.'],
    cwd: join(ROOT, 'bench', 'peers', 'pion-webrtc'),
  },
  {
    serves: ['uws'],
    title: `uWebSockets.js (npm pack ${UWS_PACKAGE}@${UWS_VERSION}, glibc shim when needed)`,
    precondition: () => (!have('npm') ? 'npm not found' : !have('tar') ? 'no `tar` found' : undefined),
    cmd: process.execPath,
    args: ['--import', 'tsx', join('bench', 'uws.ts')],
  },
]

/**
 * Runs the build steps that serve `needed` (peer ids, `relay`). Throws only when the load
 * generator cannot be built; other failures come back as reasons.
 */
export function build(needed: Set<string>, log: (line: string) => void): BuildFailures {
  mkdirSync(BUILD_DIR, { recursive: true })
  const failures: BuildFailures = new Map()
  for (const step of STEPS) {
    if (!step.serves.some((s) => s === 'loadgen' || needed.has(s))) continue
    const blocked = step.precondition?.()
    if (blocked) {
      for (const s of step.serves) failures.set(s, blocked)
      log(`  skip  ${step.title}: ${blocked}`)
      continue
    }
    const t0 = Date.now()
    const r = spawnSync(step.cmd, step.args, { cwd: step.cwd ?? ROOT, encoding: 'utf8', maxBuffer: 64 << 20 })
    const secs = ((Date.now() - t0) / 1000).toFixed(1)
    if (r.status === 0) {
      log(`  ok    ${step.title} (${secs} s)`)
      continue
    }
    const out = `${r.stdout ?? ''}\n${r.stderr ?? ''}`.trim().split('\n')
    const firstError = out.find((l) => /^error|error:|Error/.test(l)) ?? out[out.length - 1] ?? String(r.error ?? 'failed')
    const reason = `build failed: ${step.cmd} ${step.args.slice(0, 3).join(' ')}: ${firstError.trim().slice(0, 200)}`
    log(`  FAIL  ${step.title} (${secs} s)\n${out.slice(-15).map((l) => `        ${l}`).join('\n')}`)
    if (step.serves.includes('loadgen')) {
      if (!existsSync(LOADGEN)) throw new Error(`cannot build the load generator: ${firstError}`)
      log(`        using the existing ${LOADGEN}`)
      continue
    }
    for (const s of step.serves) failures.set(s, reason)
  }
  if (needed.has('relay') && !failures.has('relay') && !existsSync(RELAY_BIN)) failures.set('relay', 'riptide-relay was not built')
  return failures
}
