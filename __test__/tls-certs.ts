// Test certificates, made at test time with Debian's `openssl` (no private key is committed):
// a CA and a leaf it signs for `localhost` and 127.0.0.1, EC P-256, valid for a day.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'

/** A CA certificate, and a leaf certificate and key it issued. */
export interface TestPki {
  /** The CA certificate, PEM. */
  ca: string
  /** The leaf certificate (`localhost`, 127.0.0.1), PEM. */
  cert: string
  /** The leaf's private key, PEM (PKCS#8). */
  key: string
  /** Paths of the same three, for command-line peers (removed at exit). */
  files: { ca: string; cert: string; key: string }
}

const dirs: string[] = []
process.on('exit', () => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })))

/** A fresh CA and leaf; each call makes new keys (so two are strangers to each other). */
export function makePki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'riptide-tls-'))
  dirs.push(dir)
  const f = (name: string) => join(dir, name)
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  const run = (args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] })
  run(['req', '-x509', ...ec, '-subj', '/CN=riptide test CA', '-days', '1', '-keyout', f('ca.key'), '-out', f('ca.pem')])
  run(['req', ...ec, '-subj', '/CN=localhost', '-keyout', f('key.pem'), '-out', f('leaf.csr')])
  writeFileSync(f('ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n')
  run(['x509', '-req', '-in', f('leaf.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-set_serial', '1', '-days', '1', '-extfile', f('ext'), '-out', f('cert.pem')])
  const read = (name: string) => readFileSync(f(name), 'utf8')
  return { ca: read('ca.pem'), cert: read('cert.pem'), key: read('key.pem'), files: { ca: f('ca.pem'), cert: f('cert.pem'), key: f('key.pem') } }
}

let issued = 0

/** Another leaf from `pki`'s CA, for `name` (its CN and only DNS name). */
export function issue(pki: TestPki, name: string): { cert: string; key: string } {
  const dir = dirname(pki.files.ca)
  const n = issued++
  const f = (file: string) => join(dir, `${name}.${n}.${file}`)
  const run = (args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] })
  run(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=${name}`, '-keyout', f('key.pem'), '-out', f('csr')])
  writeFileSync(f('ext'), `subjectAltName=DNS:${name}\nbasicConstraints=CA:FALSE\n`)
  run(['x509', '-req', '-in', f('csr'), '-CA', pki.files.ca, '-CAkey', join(dir, 'ca.key'), '-set_serial', String(1000 + n), '-days', '1', '-extfile', f('ext'), '-out', f('cert.pem')])
  return { cert: readFileSync(f('cert.pem'), 'utf8'), key: readFileSync(f('key.pem'), 'utf8') }
}
