/** Runs Debian's `dig` (dnsutils) against a local DNS server: the client no one here wrote. */
import { execFile } from 'node:child_process'

/** What dig printed, and the parts the DNS tests check. */
export interface DigResult {
  out: string
  /** `NOERROR`, `NXDOMAIN`, `REFUSED`, ... */
  status: string
  /** Header flags (`qr`, `aa`, `tc`, ...). */
  flags: string[]
  /** Answer records as `name ttl class type data` lines. */
  answers: string[]
}

/**
 * `dig @127.0.0.1 -p port ...args`, asynchronously (the server may run on this thread's
 * loop), one try, 3 s timeout.
 */
export function dig(port: number, ...args: string[]): Promise<DigResult> {
  return new Promise((resolve, reject) => {
    execFile('dig', ['@127.0.0.1', '-p', String(port), '+time=3', '+tries=1', ...args], (err, out) => {
      if (err !== null) return reject(new Error(`dig ${args.join(' ')}: ${err.message}\n${out}`))
      const status = /status: ([A-Z]+)/.exec(out)?.[1] ?? ''
      const flags = (/;; flags: ([a-z ]*);/.exec(out)?.[1] ?? '').trim().split(' ')
      const section = /;; ANSWER SECTION:\n([\s\S]*?)\n\n/.exec(out)?.[1] ?? ''
      const answers = section.split('\n').filter((l) => l !== '').map((l) => l.split(/\s+/).join(' '))
      resolve({ out, status, flags, answers })
    })
  })
}
