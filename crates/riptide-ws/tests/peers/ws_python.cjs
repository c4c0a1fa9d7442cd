// Prints the path of a Python that has `websockets`, the peer of the interop tests (Rust's
// tests/interop.rs and the engine's __test__/websocket.spec.ts both ask this script):
// RIPTIDE_WS_PYTHON when set, else a venv made once under target/ws-peers/venv (about 15 s).
'use strict';
const { execFileSync } = require('node:child_process');
const { join } = require('node:path');

/** The pinned `websockets` release the venv gets. */
const PY_WEBSOCKETS = 'websockets==17.4';

function main() {
  if (process.env.RIPTIDE_WS_PYTHON) return process.env.RIPTIDE_WS_PYTHON;
  const venv = join(__dirname, '..', '..', '..', '..', 'target', 'ws-peers', 'venv');
  // A venv keeps its programs in Scripts\ on Windows, bin/ elsewhere.
  const bin = join(venv, process.platform === 'win32' ? 'Scripts' : 'bin');
  const python = join(bin, 'python');
  try {
    execFileSync(python, ['-c', 'import websockets'], { stdio: 'ignore' });
    return python;
  } catch {
    // Not made yet (or broken): make it.
  }
  execFileSync(process.platform === 'win32' ? 'python' : 'python3', ['-m', 'venv', venv], { stdio: 'inherit' });
  execFileSync(join(bin, 'pip'), ['install', '-q', PY_WEBSOCKETS], { stdio: ['ignore', 2, 2] });
  return python;
}

process.stdout.write(main());
