/**
 * A password-hashing service whose slow hashing runs in riptide's task pool, so the reactor
 * keeps answering every other connection meanwhile. One command a line:
 *
 *   hash <password>            → the stored form, pbkdf2$<iterations>$<salt>$<hash>
 *   verify <password> <stored> → ok | bad
 *   ping                       → pong (answered at once, even while hashes are computed)
 *
 * `npx tsx examples/tasks.ts --port 9000`, then `nc 127.0.0.1 9000`.
 */
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { availableParallelism } from 'node:os'
import { codecs, serve, TaskError, type Conn } from 'riptide'
import type { HashJob } from './tasks-hash'

/** Answers one command line on `conn`. */
async function answer(conn: Conn, line: string): Promise<void> {
  const [cmd, password, stored] = line.split(' ')
  if (cmd === 'ping') {
    conn.write('pong')
    return
  }
  const job: HashJob | undefined =
    cmd === 'hash' && password ? { op: 'hash', password } : cmd === 'verify' && password && stored ? { op: 'verify', password, stored } : undefined
  if (job === undefined) {
    conn.write('error: hash <password> | verify <password> <stored> | ping')
    return
  }
  try {
    // If the client hangs up first, the result is dropped and this never resumes.
    conn.write(await conn.task<string>(job))
  } catch (err) {
    // ERR_TASK_QUEUE_FULL: too many hashes waiting; ERR_TASK_FAILED: the task threw.
    conn.write(`error: ${err instanceof TaskError ? (err.taskCode ?? err.message) : (err as { code?: string }).code}`)
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { port: { type: 'string', default: '9000' } } })
  const engine = await serve(
    { url: `tcp://127.0.0.1:${values.port}`, codec: codecs.line({ maxLength: 1024 }) },
    {
      onTraffic(conn, line) {
        // onTraffic returns at once; the answer is written when the pool has it.
        void answer(conn, Buffer.from(line).toString())
      },
    },
    { tasks: { module: join(__dirname, 'tasks-hash.ts'), threads: Math.max(1, availableParallelism() - 1), maxQueue: 256 } },
  )
  console.log(`riptide hashing service on 127.0.0.1:${engine.port}`)
  const stop = () => void engine.stop()
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}

void main()
