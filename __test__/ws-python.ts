// A Python with `websockets` for the WebSocket interop tests: the crate's peer script decides
// (RIPTIDE_WS_PYTHON, or the venv under target/ws-peers/ it makes once).
import { execFile } from 'node:child_process'
import { join } from 'node:path'

let python: Promise<string> | undefined

/** The Python's path (made once per test process). */
export function wsPython(): Promise<string> {
  python ??= new Promise((resolve, reject) => {
    const script = join(__dirname, '..', 'crates', 'riptide-ws', 'tests', 'peers', 'ws_python.cjs')
    execFile(process.execPath, [script], (err, stdout) => (err ? reject(err) : resolve(stdout)))
  })
  return python
}
