/**
 * Loads uWebSockets.js for the bench: a copy installed by hand (`node_modules/uWebSockets.js`)
 * when it loads, else the one bench/uws.ts prepared under target/bench/uws/ from the npm
 * republish @btc-vision/uwebsockets.js — on a glibc older than its binary needs, a patched
 * copy loaded after a small C shim (bench/peers/uws-shim/shim.c). Imports nothing of the
 * runner, so the peer program stays small.
 */
import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { constants } from 'node:os'
import { join } from 'node:path'

/** Where bench/uws.ts puts the package, the patched binary and the shim (gitignored). */
export const UWS_DIR = join(__dirname, '..', '..', 'target', 'bench', 'uws')

/** What bench/uws.ts prepared: `UWS_DIR/uws.json`. */
export const UWS_MANIFEST = join(UWS_DIR, 'uws.json')

/** The record bench/uws.ts writes next to the binary it prepared. */
export interface UwsManifest {
  /** npm package the binary comes from. */
  package: string
  /** Its version. */
  version: string
  /** The binary to load, relative to UWS_DIR. */
  binary: string
  /** The shim to load first (RTLD_GLOBAL), relative to UWS_DIR; absent when none was needed. */
  shim?: string
  /** The references the shim serves, as `symbol@VERSION` (their version requirement was dropped). */
  shimmed: string[]
  /** The C library the copy was prepared for, e.g. "glibc 2.36". */
  libc: string
}

/** A loaded uWebSockets.js and how it was found. */
export interface LoadedUws {
  /** The module's exports. */
  module: unknown
  /** Where it came from, for logs and the report. */
  via: string
  /** The prepared copy's record, when that is what was loaded. */
  manifest?: UwsManifest
}

/** The first line of an error's message. */
export function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n').find((l) => l.trim() !== '')?.trim() ?? String(err)
}

/** Reads the manifest bench/uws.ts wrote, or undefined when there is none. */
export function readUwsManifest(): UwsManifest | undefined {
  if (!existsSync(UWS_MANIFEST)) return undefined
  return JSON.parse(readFileSync(UWS_MANIFEST, 'utf8')) as UwsManifest
}

/** One line saying what a prepared copy is, e.g. for the peer's description. */
export function describePrepared(m: UwsManifest): string {
  const from = `${m.package}@${m.version} from npm (binary ${m.binary.replace(/\.patched\.node$/, '.node')})`
  if (!m.shim) return from
  const versions = [...new Set(m.shimmed.map((s) => s.split('@')[1]))].join(', ')
  const symbols = m.shimmed.map((s) => `\`${s.split('@')[0]}\``).join(', ')
  return (
    `${from} **run through a glibc shim**: the binary needs ${versions} for ${symbols} and this machine has ${m.libc}, ` +
    `so bench/uws.ts makes those references unversioned in a copy and bench/peers/uws-shim/shim.c forwards them to the C17 functions ` +
    `(called at start-up only, not per request)`
  )
}

/**
 * Loads the copy bench/uws.ts prepared: the shim first with RTLD_GLOBAL (so the patched
 * binary's unversioned references bind to it), then the binary. Throws when there is none or
 * it does not load.
 */
export function loadPrepared(): LoadedUws {
  const m = readUwsManifest()
  if (!m) throw new Error('not prepared: no target/bench/uws/uws.json (the bench build makes it: npm run bench)')
  if (m.shim) {
    const flags = (constants.dlopen.RTLD_NOW ?? 2) | (constants.dlopen.RTLD_GLOBAL ?? 0x100)
    process.dlopen({ exports: {} }, join(UWS_DIR, m.shim), flags)
  }
  const module: unknown = createRequire(__filename)(join(UWS_DIR, m.binary))
  return { module, via: describePrepared(m), manifest: m }
}

/**
 * Loads uWebSockets.js: a hand-installed `uWebSockets.js` package if it loads, else the
 * prepared copy. Throws with both reasons when neither works.
 */
export function loadUws(): LoadedUws {
  let installed: string
  try {
    return { module: createRequire(__filename)('uWebSockets.js'), via: 'uWebSockets.js installed in node_modules' }
  } catch (err) {
    installed = firstLine(err)
  }
  try {
    return loadPrepared()
  } catch (err) {
    const prepared = firstLine(err)
    throw new Error(/Cannot find module/.test(installed) ? prepared : `${prepared}; node_modules/uWebSockets.js: ${installed}`)
  }
}
