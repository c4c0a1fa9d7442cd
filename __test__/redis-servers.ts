// Starting the Redis-protocol servers the Redis tests compare: examples/redis/server.ts on
// riptide (under the driver RIPTIDE_DRIVER names) and Debian's redis-server, each on a free
// loopback port, each stopped with SIGTERM.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'

const root = join(__dirname, '..')

/** Whether redis-server, redis-cli and redis-benchmark (Debian's redis-server and redis-tools) are installed. */
export const hasRedis = ['redis-server', 'redis-cli', 'redis-benchmark'].every((c) => spawnSync(c, ['--version']).status === 0)

/** A running server: its process and port. */
export interface RedisServer {
  child: ChildProcess
  port: number
}

/** A port free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo
      s.close(() => resolve(port))
    })
    s.once('error', reject)
  })
}

/** Resolves once `child` prints a line matching `ready`, with the port that line holds. */
function whenReady(child: ChildProcess, ready: RegExp): Promise<number> {
  return new Promise((resolve, reject) => {
    let out = ''
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      const m = ready.exec(out)
      if (m !== null) resolve(Number(m[1]))
    })
    child.once('error', reject)
    child.once('exit', (code) => reject(new Error(`server exited (${code}): ${out}`)))
  })
}

/** Starts `npx tsx examples/redis/server.ts --port 0`. */
export async function startExample(): Promise<RedisServer> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'examples', 'redis', 'server.ts'), '--port', '0'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  return { child, port: await whenReady(child, /riptide redis on 127\.0\.0\.1:(\d+)/) }
}

/** Starts redis-server with no persistence on a free loopback port (or on `port`, to restart one). */
export async function startRedisServer(port?: number): Promise<RedisServer> {
  port ??= await freePort()
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'notice'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  await whenReady(child, new RegExp(`(${port})[\\s\\S]*Ready to accept connections`))
  return { child, port }
}

/** Stops a server and waits for it to exit. */
export async function stop(s: RedisServer): Promise<void> {
  if (s.child.exitCode !== null || s.child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => s.child.once('exit', () => resolve()))
  s.child.kill('SIGTERM')
  await exited
}

/** Resident memory of a process in bytes (Linux `/proc`). */
export function rss(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = /VmRSS:\s+(\d+) kB/.exec(status)
  return kb === null ? 0 : Number(kb[1]) * 1024
}
