/**
 * Prepares the uWebSockets.js peer (a bench build step; also runs alone:
 * `node --import tsx bench/uws.ts`). uWebSockets.js is not on the npm registry, so this takes
 * the npm republish @btc-vision/uwebsockets.js (pinned version and integrity) with
 * `npm pack` into target/bench/uws/ and extracts the binary for this Node
 * (`uws_<platform>_<arch>_<ABI>.node`).
 *
 * Its Linux binaries were linked against glibc >= 2.38 and reference the ISO C23 entry points
 * `__isoc23_strtol`, `__isoc23_sscanf`, ... (version GLIBC_2.38). On an older glibc this
 * step builds bench/peers/uws-shim/shim.c (`cc`), which defines those functions by forwarding
 * to the C17 ones, and writes a copy of the binary whose references to them are unversioned
 * (their `.gnu.version` entries set to global, the GLIBC_2.38 entry unlinked from
 * `.gnu.version_r`); bench/peers/uws-load.ts loads the shim with RTLD_GLOBAL before the copy.
 * Nothing else in the binary changes. The result is recorded in target/bench/uws/uws.json
 * and checked by loading it in a child process. Prints `error: <reason>` and exits 1 when it
 * cannot be done.
 */
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { firstLine, UWS_DIR, UWS_MANIFEST, type UwsManifest } from './peers/uws-load'

/** The npm package that ships uWebSockets.js binaries. */
export const UWS_PACKAGE = '@btc-vision/uwebsockets.js'
/** Its pinned version (uWebSockets.js v20.57.0). */
export const UWS_VERSION = '20.57.0'
/** The registry's integrity for that tarball. */
const UWS_INTEGRITY = 'sha512-SuPpEjSKZ7P58L/27BXXsrGsMwLmPupfYny8oJsOmFZ4+zX7Ca97nBPtZ3ngKbfeDZzTyi7rXri74INGerhugg=='

const ROOT = join(__dirname, '..')
const SHIM_SRC = join(ROOT, 'bench', 'peers', 'uws-shim', 'shim.c')
const SHIM_LIB = 'uws-glibc-shim.so'
const TARBALL = join(UWS_DIR, `btc-vision-uwebsockets.js-${UWS_VERSION}.tgz`)

// ---------------------------------------------------------------------------------------------
// ELF (64-bit little-endian) reading and the version-requirement patch

const SHT_DYNSYM = 11
const SHT_GNU_VERNEED = 0x6ffffffe
const SHT_GNU_VERSYM = 0x6fffffff
const VER_NDX_GLOBAL = 1
const VER_FLG_WEAK = 2

interface Section {
  type: number
  offset: number
  size: number
  link: number
  info: number
  entsize: number
}

interface Elf {
  buf: Buffer
  sections: Section[]
}

function readElf(buf: Buffer, what: string): Elf {
  if (buf.readUInt32BE(0) !== 0x7f454c46) throw new Error(`${what} is not an ELF file`)
  if (buf[4] !== 2 || buf[5] !== 1) throw new Error(`${what} is not 64-bit little-endian ELF`)
  const shoff = Number(buf.readBigUInt64LE(0x28))
  const shentsize = buf.readUInt16LE(0x3a)
  const shnum = buf.readUInt16LE(0x3c)
  const sections: Section[] = []
  for (let i = 0; i < shnum; i++) {
    const o = shoff + i * shentsize
    sections.push({
      type: buf.readUInt32LE(o + 4),
      offset: Number(buf.readBigUInt64LE(o + 24)),
      size: Number(buf.readBigUInt64LE(o + 32)),
      link: buf.readUInt32LE(o + 40),
      info: buf.readUInt32LE(o + 44),
      entsize: Number(buf.readBigUInt64LE(o + 56)),
    })
  }
  return { buf, sections }
}

function section(elf: Elf, type: number, what: string): Section {
  const s = elf.sections.find((x) => x.type === type)
  if (!s) throw new Error(`${what} has no section of type 0x${type.toString(16)}`)
  return s
}

const cstr = (buf: Buffer, at: number): string => buf.toString('latin1', at, buf.indexOf(0, at))

interface DynSym {
  index: number
  name: string
  /** Section index: 0 = undefined (a reference). */
  shndx: number
}

function dynamicSymbols(elf: Elf, what: string): DynSym[] {
  const dynsym = section(elf, SHT_DYNSYM, what)
  const strtab = elf.sections[dynsym.link].offset
  const out: DynSym[] = []
  for (let i = 0; i < dynsym.size / 24; i++) {
    const o = dynsym.offset + i * 24
    out.push({ index: i, name: cstr(elf.buf, strtab + elf.buf.readUInt32LE(o)), shndx: elf.buf.readUInt16LE(o + 6) })
  }
  return out
}

/** One `Elf64_Vernaux`: a version needed from one library. */
interface VersionNeed {
  /** File offset of the entry. */
  at: number
  name: string
  /** The index `.gnu.version` uses for it. */
  index: number
}

/** `.gnu.version_r`: per needed library (file offset of its `Elf64_Verneed`), its versions. */
function versionNeeds(elf: Elf, what: string): { at: number; file: string; needs: VersionNeed[] }[] {
  const vr = section(elf, SHT_GNU_VERNEED, what)
  const strtab = elf.sections[vr.link].offset
  const out: { at: number; file: string; needs: VersionNeed[] }[] = []
  let vn = vr.offset
  for (let i = 0; i < vr.info; i++) {
    const b = elf.buf
    const needs: VersionNeed[] = []
    let aux = vn + b.readUInt32LE(vn + 8)
    for (let j = 0; j < b.readUInt16LE(vn + 2); j++) {
      needs.push({ at: aux, name: cstr(b, strtab + b.readUInt32LE(aux + 8)), index: b.readUInt16LE(aux + 6) })
      aux += b.readUInt32LE(aux + 12)
    }
    out.push({ at: vn, file: cstr(b, strtab + b.readUInt32LE(vn + 4)), needs })
    const next = b.readUInt32LE(vn + 12)
    if (next === 0) break
    vn += next
  }
  return out
}

/** [major, minor] of "GLIBC_2.38" / "2.36"; undefined for other names. */
function glibcVersionOf(name: string): [number, number] | undefined {
  const m = /^(?:GLIBC_)?(\d+)\.(\d+)/.exec(name)
  return m ? [Number(m[1]), Number(m[2])] : undefined
}

const newer = (a: [number, number], b: [number, number]): boolean => a[0] > b[0] || (a[0] === b[0] && a[1] > b[1])

/**
 * The copy of `binary` with its references to glibc versions newer than `libc` made
 * unversioned, provided `provided` (the shim's exports) has every such symbol. Returns the
 * patched bytes and the symbols, as `symbol@VERSION`; no symbols when nothing is too new.
 */
function patchVersions(binary: Buffer, libc: [number, number], provided: Set<string>): { bytes: Buffer; shimmed: string[] } {
  const elf = readElf(Buffer.from(binary), 'the uWebSockets.js binary')
  const b = elf.buf
  const tooNew = new Map<number, string>()
  for (const lib of versionNeeds(elf, 'the uWebSockets.js binary')) {
    const drop = lib.needs.filter((n) => {
      const v = glibcVersionOf(n.name)
      return n.name.startsWith('GLIBC_') && v !== undefined && newer(v, libc)
    })
    if (drop.length === 0) continue
    for (const n of drop) tooNew.set(n.index, n.name)
    const keep = lib.needs.filter((n) => !drop.includes(n))
    if (keep.length === 0 || keep.some((n, i) => i > 0 && n.at <= keep[i - 1].at) || keep[0].at <= lib.at) {
      // Cannot unlink them all (the chain would be empty or go backwards): mark them weak instead,
      // which makes a missing version not an error for the dynamic loader.
      for (const n of drop) b.writeUInt16LE(b.readUInt16LE(n.at + 4) | VER_FLG_WEAK, n.at + 4)
      continue
    }
    b.writeUInt16LE(keep.length, lib.at + 2) // vn_cnt
    b.writeUInt32LE(keep[0].at - lib.at, lib.at + 8) // vn_aux
    keep.forEach((n, i) => b.writeUInt32LE(i + 1 < keep.length ? keep[i + 1].at - n.at : 0, n.at + 12)) // vna_next
  }
  if (tooNew.size === 0) return { bytes: b, shimmed: [] }
  const versym = section(elf, SHT_GNU_VERSYM, 'the uWebSockets.js binary')
  const shimmed: string[] = []
  const missing: string[] = []
  for (const sym of dynamicSymbols(elf, 'the uWebSockets.js binary')) {
    const at = versym.offset + sym.index * 2
    const version = tooNew.get(b.readUInt16LE(at) & 0x7fff)
    if (version === undefined) continue
    const id = `${sym.name}@${version}`
    if (sym.shndx !== 0 || !provided.has(sym.name)) {
      missing.push(id)
      continue
    }
    b.writeUInt16LE(VER_NDX_GLOBAL, at)
    shimmed.push(id)
  }
  if (missing.length) throw new Error(`the binary needs ${missing.join(', ')}, which bench/peers/uws-shim/shim.c does not provide`)
  return { bytes: b, shimmed: shimmed.sort() }
}

// ---------------------------------------------------------------------------------------------

function run(cmd: string, args: string[], cwd = ROOT): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 64 << 20 })
  if (r.status === 0) return r.stdout
  const out = `${r.stderr ?? ''}\n${r.stdout ?? ''}`.split('\n').filter((l) => l.trim() !== '' && !/npm warn/i.test(l))
  const errors = out.filter((l) => /error/i.test(l))
  const why = (errors.length ? errors.slice(0, 2) : out.slice(-2)).join(' | ')
  throw new Error(`${cmd} ${args.slice(0, 2).join(' ')}: ${why || String(r.error ?? `exit ${r.status}`)}`)
}

const integrity = (file: string): string => `sha512-${createHash('sha512').update(readFileSync(file)).digest('base64')}`

/** The running C library as [major, minor], or undefined when it is not glibc. */
function runningGlibc(): [number, number] | undefined {
  if (process.platform !== 'linux') return undefined
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined
  const v = report?.header?.glibcVersionRuntime
  return v ? glibcVersionOf(v) : undefined
}

/** Fetches and prepares the package; returns the manifest it wrote. */
export function prepareUws(log: (line: string) => void): UwsManifest {
  mkdirSync(UWS_DIR, { recursive: true })
  if (!existsSync(TARBALL) || integrity(TARBALL) !== UWS_INTEGRITY) {
    log(`npm pack ${UWS_PACKAGE}@${UWS_VERSION}`)
    run('npm', ['pack', `${UWS_PACKAGE}@${UWS_VERSION}`, '--pack-destination', UWS_DIR])
    if (!existsSync(TARBALL)) throw new Error(`npm pack did not write ${relative(ROOT, TARBALL)}`)
    const got = integrity(TARBALL)
    if (got !== UWS_INTEGRITY) throw new Error(`${relative(ROOT, TARBALL)} has integrity ${got}, expected ${UWS_INTEGRITY}`)
  }
  const name = `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`
  const original = join(UWS_DIR, 'package', name)
  if (!existsSync(original)) {
    const list = run('tar', ['-tzf', TARBALL])
    if (!list.split('\n').includes(`package/${name}`)) {
      throw new Error(`${UWS_PACKAGE}@${UWS_VERSION} has no ${name} (no binary for Node ${process.versions.node} on ${process.platform}-${process.arch})`)
    }
    run('tar', ['-xzf', TARBALL, '-C', UWS_DIR, `package/${name}`, 'package/package.json', 'package/uws.js'])
  }
  rmSync(UWS_MANIFEST, { force: true })
  const manifest: UwsManifest = { package: UWS_PACKAGE, version: UWS_VERSION, binary: join('package', name), shimmed: [], libc: 'not glibc' }
  const libc = runningGlibc()
  if (libc) {
    manifest.libc = `glibc ${libc.join('.')}`
    const needs = versionNeeds(readElf(readFileSync(original), name), name)
    const tooNew = needs.flatMap((l) => l.needs.filter((n) => n.name.startsWith('GLIBC_') && newer(glibcVersionOf(n.name) ?? [0, 0], libc)))
    if (tooNew.length > 0) {
      log(`${name} needs ${[...new Set(tooNew.map((n) => n.name))].join(', ')}; this machine has ${manifest.libc}: building the shim`)
      const shim = join(UWS_DIR, SHIM_LIB)
      run('cc', ['-O2', '-fPIC', '-shared', '-std=gnu11', '-fvisibility=hidden', '-Wall', '-o', shim, SHIM_SRC])
      const provided = new Set(dynamicSymbols(readElf(readFileSync(shim), SHIM_LIB), SHIM_LIB).filter((s) => s.shndx !== 0).map((s) => s.name))
      const { bytes, shimmed } = patchVersions(readFileSync(original), libc, provided)
      const patched = join(UWS_DIR, name.replace(/\.node$/, '.patched.node'))
      writeFileSync(`${patched}.tmp`, bytes)
      renameSync(`${patched}.tmp`, patched)
      Object.assign(manifest, { binary: relative(UWS_DIR, patched), shim: SHIM_LIB, shimmed })
      log(`wrote ${relative(ROOT, patched)}: ${shimmed.join(', ')} now bind to the shim`)
    }
  } else if (process.platform === 'linux') {
    throw new Error(`${UWS_PACKAGE} ships glibc binaries only, and this Linux does not use glibc`)
  }
  writeFileSync(UWS_MANIFEST, JSON.stringify(manifest, null, 2) + '\n')
  // Load it the way the peer does, in a child, so a failure here is a build failure.
  const check = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', 'peers', 'uws-http.ts'), '--check'], { cwd: ROOT, encoding: 'utf8', timeout: 30000 })
  const last = check.stdout.trim().split('\n').pop() ?? ''
  if (check.status !== 0) {
    rmSync(UWS_MANIFEST, { force: true })
    throw new Error(`the prepared copy does not load: ${last || firstLine(check.stderr)}`)
  }
  log(`loads: ${last}`)
  return manifest
}

if (require.main === module) {
  try {
    prepareUws((l) => console.log(l))
  } catch (err) {
    console.error(`error: ${firstLine(err)}`)
    process.exit(1)
  }
}
