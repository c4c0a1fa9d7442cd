// Prints the path of a Python that has `websockets`, the peer of the interop tests (Rust's
// tests/interop.rs and the engine's __test__/websocket.spec.ts both ask this script):
// RIPTIDE_WS_PYTHON when set, else a venv made once under target/ws-peers/venv (about 15 s).
'use strict';
const { execFileSync } = require('node:child_process');
const { mkdirSync, rmSync } = require('node:fs');
const { join } = require('node:path');

/** The pinned `websockets` release the venv gets. */
const PY_WEBSOCKETS = 'websockets==17.4';

function main() {
  if (process.env.RIPTIDE_WS_PYTHON) return process.env.RIPTIDE_WS_PYTHON;
  const venv = join(__dirname, '..', '..', '..', '..', 'target', 'ws-peers', 'venv');
  // A venv keeps its programs in Scripts\ on Windows, bin/ elsewhere.
  const bin = join(venv, process.platform === 'win32' ? 'Scripts' : 'bin');
  const python = join(bin, 'python');
  const ready = () => {
    try {
      execFileSync(python, ['-c', 'import websockets'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  };
  if (ready()) return python;
  // Test processes ask at once on a fresh checkout: one makes the venv (holding a lock
  // directory, which mkdir creates atomically), the others wait for it (about 15 s).
  const lock = `${venv}.lock`;
  mkdirSync(join(venv, '..'), { recursive: true });
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
      if (ready()) return python;
      // A lock left by a killed maker: take it over after the deadline.
      if (Date.now() > deadline) {
        rmSync(lock, { recursive: true, force: true });
        continue;
      }
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 250);
    }
  }
  try {
    if (!ready()) {
      execFileSync(process.platform === 'win32' ? 'python' : 'python3', ['-m', 'venv', '--clear', venv], { stdio: 'inherit' });
      execFileSync(join(bin, 'pip'), ['install', '-q', PY_WEBSOCKETS], { stdio: ['ignore', 2, 2] });
    }
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
  return python;
}

process.stdout.write(main());
