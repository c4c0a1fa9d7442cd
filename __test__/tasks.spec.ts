import test from 'ava'
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { serve, type Conn, type Engine, type RiptideError, TaskError, type TaskOptions } from 'riptide'
import { connect, readExactly, until } from './helpers'
import type { TaskPayload } from './fixtures/task-fn'
import { handler as taskHandler } from './fixtures/task-handler'

const fixture = (name: string) => join(__dirname, 'fixtures', name)
const tasks = (more: Partial<TaskOptions> = {}): TaskOptions => ({ module: fixture('task-fn.ts'), threads: 2, maxQueue: 16, ...more })
const run = <R = unknown>(engine: Engine, p: TaskPayload, options?: { signal?: AbortSignal }) => engine.task<R>(p, options)

test('a handler starts conn.task and writes the result back; engine.task returns structured values', async (t) => {
  const engine = await serve(
    'tcp://127.0.0.1:0',
    {
      onTraffic(conn, data) {
        void conn.task<string>({ op: 'upper', text: Buffer.from(data).toString() } satisfies TaskPayload).then((upper) => conn.write(upper))
      },
    },
    { tasks: tasks() },
  )
  t.teardown(() => engine.stop())
  const s = await connect(engine.port)
  s.write('hello pool')
  t.is((await readExactly(s, 10)).toString(), 'HELLO POOL')
  s.write('again')
  t.is((await readExactly(s, 5)).toString(), 'AGAIN')
  s.destroy()
  const value = { n: 42, list: [1, 'two', { three: 3 }], bytes: new Uint8Array([1, 2, 3]) }
  t.deepEqual(await run(engine, { op: 'echo', value }), value)
  // More tasks than threads at once: all answer, each with its own result.
  const many = await Promise.all(Array.from({ length: 12 }, (_, i) => run<number>(engine, { op: 'echo', value: i })))
  t.deepEqual(many, Array.from({ length: 12 }, (_, i) => i))
})

test('a task that throws rejects with TaskError carrying its message, code and name', async (t) => {
  const engine = await serve('tcp://127.0.0.1:0', {}, { tasks: tasks() })
  t.teardown(() => engine.stop())
  const err = await t.throwsAsync(run(engine, { op: 'throw', message: 'image is broken', code: 'ERR_BAD_IMAGE' }), { instanceOf: TaskError })
  t.is(err.code, 'ERR_TASK_FAILED')
  t.is(err.message, 'image is broken')
  t.is(err.taskCode, 'ERR_BAD_IMAGE')
  t.is(err.taskName, 'RangeError')
  const plain = await t.throwsAsync(run(engine, { op: 'throw', message: 'no code' }), { instanceOf: TaskError })
  t.is(plain.taskCode, undefined)
  // The thread survives a failed task.
  t.is(await run(engine, { op: 'upper', text: 'ok' }), 'OK')
})

test('a full queue rejects with ERR_TASK_QUEUE_FULL; the queued and running tasks still finish', async (t) => {
  const engine = await serve('tcp://127.0.0.1:0', {}, { tasks: tasks({ threads: 1, maxQueue: 1 }) })
  t.teardown(() => engine.stop())
  t.is(await run(engine, { op: 'echo', value: 'warm' }), 'warm')
  const running = run(engine, { op: 'sleep', ms: 300, value: 'first' })
  const queued = run(engine, { op: 'echo', value: 'second' })
  const refused = await t.throwsAsync(run(engine, { op: 'echo', value: 'third' }))
  t.is((refused as RiptideError).code, 'ERR_TASK_QUEUE_FULL')
  t.deepEqual(await Promise.all([running, queued]), ['first', 'second'])
  t.is(await run(engine, { op: 'echo', value: 'room again' }), 'room again')
})

test('maxQueue 0: a task runs only on a free thread', async (t) => {
  const engine = await serve('tcp://127.0.0.1:0', {}, { tasks: tasks({ threads: 1, maxQueue: 0 }) })
  t.teardown(() => engine.stop())
  t.is(await run(engine, { op: 'echo', value: 1 }), 1)
  const busy = run(engine, { op: 'sleep', ms: 300 })
  const refused = await t.throwsAsync(run(engine, { op: 'echo', value: 2 }))
  t.is((refused as RiptideError).code, 'ERR_TASK_QUEUE_FULL')
  t.is(await busy, 'slept')
})

test('an AbortSignal cancels a running task with ABORT_ERR', async (t) => {
  const engine = await serve('tcp://127.0.0.1:0', {}, { tasks: tasks({ threads: 1 }) })
  t.teardown(() => engine.stop())
  t.is(await run(engine, { op: 'echo', value: 'warm' }), 'warm')
  const ac = new AbortController()
  const long = run(engine, { op: 'sleep', ms: 60_000 }, { signal: ac.signal })
  ac.abort()
  t.is(((await t.throwsAsync(long)) as RiptideError).code, 'ABORT_ERR')
  t.is(((await t.throwsAsync(run(engine, { op: 'echo', value: 0 }, { signal: AbortSignal.abort() }))) as RiptideError).code, 'ABORT_ERR')
  // The pool replaced the thread it ended.
  t.is(await run(engine, { op: 'upper', text: 'after' }), 'AFTER')
})

// Serial: it watches the process for unhandled rejections, which other tests must not add to.
test.serial('results and errors that arrive after the connection closed are dropped: no throw, no unhandled rejection', async (t) => {
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown) => unhandled.push(reason)
  process.on('unhandledRejection', onUnhandled)
  t.teardown(() => process.off('unhandledRejection', onUnhandled))
  const errors: unknown[] = []
  let started = 0
  let wrote = 0
  let closed: Conn | undefined
  let flag = new Int32Array(new SharedArrayBuffer(4))
  const engine = await serve(
    'tcp://127.0.0.1:0',
    {
      onTraffic(conn, data) {
        started++
        const fail = Buffer.from(data).toString() === 'fail' ? 'late failure' : undefined
        // The write would throw ERR_CONN_CLOSED (an unhandled rejection) if the result were
        // handed over after the close; the failure would be one itself.
        void conn.task<string>({ op: 'gate', flag, value: 'late result', fail } satisfies TaskPayload).then((result) => {
          conn.write(result)
          wrote++
        })
      },
      onClose(conn) {
        closed = conn
      },
      onError(_conn, err) {
        errors.push(err)
      },
    },
    { tasks: tasks({ threads: 1 }) },
  )
  t.teardown(() => engine.stop())
  for (const what of ['result', 'fail']) {
    closed = undefined
    flag = new Int32Array(new SharedArrayBuffer(4))
    const s = await connect(engine.port)
    s.write(what)
    await until(() => started > 0)
    s.destroy()
    await until(() => closed !== undefined)
    // The task finishes only now, after onClose.
    Atomics.store(flag, 0, 1)
    Atomics.notify(flag, 0)
    // With one thread this queues behind the dropped task: once it answers, the dropped
    // task's result (or error) has come back and been dealt with.
    t.is(await run(engine, { op: 'echo', value: 'behind' }), 'behind')
    await new Promise((r) => setImmediate(r))
    started = 0
  }
  t.is(wrote, 0)
  t.deepEqual(errors, [])
  t.deepEqual(unhandled, [])
})

test('stop() cancels queued and running tasks with ERR_ENGINE_STOPPED; later tasks reject the same way', async (t) => {
  const engine = await serve('tcp://127.0.0.1:0', {}, { tasks: tasks({ threads: 1 }) })
  t.is(await run(engine, { op: 'echo', value: 'warm' }), 'warm')
  const running = t.throwsAsync(run(engine, { op: 'sleep', ms: 60_000 }))
  const queued = t.throwsAsync(run(engine, { op: 'echo', value: 'never' }))
  await engine.stop()
  t.is(((await running) as RiptideError).code, 'ERR_ENGINE_STOPPED')
  t.is(((await queued) as RiptideError).code, 'ERR_ENGINE_STOPPED')
  t.is(((await t.throwsAsync(run(engine, { op: 'echo', value: 'late' }))) as RiptideError).code, 'ERR_ENGINE_STOPPED')
})

test('the process exits by itself after stop() with a task pool (no thread left running)', (t) => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', fixture('task-exit.ts')], { timeout: 30_000, encoding: 'utf8' })
  t.is(r.signal, null, `killed: ${r.stderr}`)
  t.is(r.status, 0, r.stderr)
  t.regex(r.stdout, /task said DONE/)
  t.regex(r.stdout, /the long task ended with ERR_ENGINE_STOPPED/)
})

test('worker reactors run tasks in pools of their own through conn.task', async (t) => {
  const engine = await serve('tcp://127.0.0.1:0', taskHandler, {
    reactors: 2,
    workerModule: fixture('task-handler.ts'),
    tasks: tasks({ threads: 1 }),
  })
  t.teardown(() => engine.stop())
  const seen = new Set<string>()
  for (let i = 0; i < 4; i++) {
    const s = await connect(engine.port)
    s.write('abc')
    const line = (await readExactly(s, 6)).toString()
    t.regex(line, /^ABC [01]\n$/)
    seen.add(line)
    s.destroy()
  }
  t.deepEqual([...seen].sort(), ['ABC 0\n', 'ABC 1\n'])
})

test('the tasks option is checked at serve(); task() without a pool is refused', async (t) => {
  const bad: Array<[unknown, RegExp]> = [
    [null, /options\.tasks must be an object/],
    [{ ...tasks(), thread: 2 }, /options\.tasks has no option 'thread' \(did you mean 'threads'\?\)/],
    [{ threads: 1, maxQueue: 1 }, /options\.tasks\.module must be a path/],
    [tasks({ module: fixture('no-such-task.ts') }), /no such file/],
    [tasks({ module: __dirname }), /no such file/],
    [tasks({ module: 'file:relative' }), /not a valid file: URL|no such file/],
    [tasks({ threads: 0 }), /options\.tasks\.threads must be an integer in \[1, 256\]/],
    [tasks({ threads: 1.5 }), /options\.tasks\.threads/],
    [tasks({ threads: 257 }), /options\.tasks\.threads/],
    [{ module: fixture('task-fn.ts'), maxQueue: 1 }, /options\.tasks\.threads/],
    [tasks({ maxQueue: -1 }), /options\.tasks\.maxQueue/],
    [tasks({ maxQueue: Infinity }), /options\.tasks\.maxQueue/],
    [tasks({ idleTimeout: Number.NaN }), /options\.tasks\.idleTimeout/],
    [tasks({ idleTimeout: 0 }), /options\.tasks\.idleTimeout/],
  ]
  for (const [value, message] of bad) {
    const err = await t.throwsAsync(serve('tcp://127.0.0.1:0', {}, { tasks: value as TaskOptions }), { message }, JSON.stringify(value))
    t.is((err as RiptideError).code, 'ERR_INVALID_ARG_VALUE')
  }
  // A file: URL is as good as a path, and idle threads may exit.
  const byUrl = await serve('tcp://127.0.0.1:0', {}, { tasks: tasks({ module: pathToFileURL(fixture('task-fn.ts')).href, idleTimeout: 50 }) })
  t.is(await run(byUrl, { op: 'upper', text: 'url' }), 'URL')
  const badRun = await t.throwsAsync(byUrl.task('x', { sgnal: undefined } as never))
  t.is((badRun as RiptideError).code, 'ERR_INVALID_ARG_VALUE')
  await byUrl.stop()
  const none = await serve('tcp://127.0.0.1:0', {})
  t.teardown(() => none.stop())
  const err = await t.throwsAsync(none.task('x'), { message: /needs a task pool/ })
  t.is((err as RiptideError).code, 'ERR_INVALID_ARG_VALUE')
})

test('examples/tasks.ts hashes and verifies passwords in the pool and answers ping meanwhile', async (t) => {
  const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, '..', 'examples', 'tasks.ts'), '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] })
  t.teardown(() => child.kill())
  let out = ''
  child.stdout.on('data', (b: Buffer) => (out += b.toString()))
  await until(() => /on 127\.0\.0\.1:\d+/.test(out), 30_000)
  const port = Number(/:(\d+)/.exec(out)![1])
  const s = await connect(port)
  const lines: string[] = []
  let buffered = ''
  s.on('data', (b: Buffer) => {
    buffered += b.toString()
    const parts = buffered.split('\n')
    buffered = parts.pop()!
    lines.push(...parts)
  })
  // The hash is computed in the pool: the ping sent after it is answered first.
  s.write('hash s3cret\nping\n')
  await until(() => lines.length === 2, 30_000)
  t.is(lines[0], 'pong')
  t.regex(lines[1], /^pbkdf2\$600000\$[0-9a-f]{32}\$[0-9a-f]{64}$/)
  s.write(`verify s3cret ${lines[1]}\nverify wrong ${lines[1]}\n`)
  await until(() => lines.length === 4, 30_000)
  t.deepEqual(lines.slice(2).sort(), ['bad', 'ok'])
  s.write('verify x notahash\n')
  await until(() => lines.length === 5, 30_000)
  t.is(lines[4], 'error: ERR_BAD_HASH')
  s.destroy()
  child.kill()
  await once(child, 'exit')
})
