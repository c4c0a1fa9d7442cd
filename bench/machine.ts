/**
 * What a results file records about the machine and toolchains, plus a spin-loop check of how
 * much of a CPU this process actually gets (hidden host contention shows there, not as steal).
 */
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { cpus, release, totalmem } from 'node:os'
import { join } from 'node:path'
import { ROOT } from './harness'
import { glibcVersion } from './peers'

function firstLine(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' })
  return r.status === 0 ? `${r.stdout}${r.stderr}`.trim().split('\n')[0] : 'not found'
}

/** The version a go.mod requires for `module`, or "-". */
function goModVersion(file: string, module: string): string {
  try {
    const m = new RegExp(`${module.replace(/[./]/g, '\\$&')}\\s+(v[^\\s]+)`).exec(readFileSync(join(ROOT, file), 'utf8'))
    return m ? m[1] : '-'
  } catch {
    return '-'
  }
}

/** CPU time ÷ wall time of a busy loop of `ms` on this thread, in percent. */
function spin(ms: number): number {
  const c0 = process.cpuUsage()
  const t0 = process.hrtime.bigint()
  let x = 0
  while (Number(process.hrtime.bigint() - t0) < ms * 1e6) x++
  const c = process.cpuUsage(c0)
  const wall = Number(process.hrtime.bigint() - t0) / 1e3
  return x > 0 ? Math.round(((c.user + c.system) / wall) * 100) : 0
}

/** Machine and toolchain facts for the results header. */
export async function machineInfo(spinMs: number): Promise<Record<string, string | number>> {
  let os = 'unknown'
  try {
    os = /^PRETTY_NAME="?([^"\n]*)/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? os
  } catch {
    // not Linux
  }
  await new Promise((r) => setTimeout(r, 10))
  return {
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    os,
    kernel: release(),
    libc: glibcVersion(),
    node: process.version,
    rustc: firstLine('rustc', ['--version']),
    go: firstLine('go', ['version']),
    cc: firstLine('cc', ['--version']),
    gnet: goModVersion('bench/peers/gnet/go.mod', 'github.com/panjf2000/gnet/v2'),
    kcpGo: goModVersion('tests/interop/kcp-go/go.mod', 'github.com/xtaci/kcp-go/v5'),
    effectiveCpuPct: spin(spinMs),
  }
}
