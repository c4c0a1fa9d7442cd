import net from 'node:net'

/** What a raw exchange saw: every byte the server sent, and whether it closed the connection. */
export interface Exchange {
  reply: Buffer
  closed: boolean
}

/**
 * Sends `bytes` on a fresh raw connection to 127.0.0.1:`port` and collects the reply until the
 * server closes the connection or `ms` pass (then `closed` is false).
 */
export function exchange(port: number, bytes: Buffer | string, ms = 3000): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    const s = net.connect(port, '127.0.0.1', () => s.write(bytes))
    const done = (closed: boolean) => {
      clearTimeout(timer)
      s.destroy()
      resolve({ reply: Buffer.concat(chunks), closed })
    }
    const timer = setTimeout(() => done(false), ms)
    s.on('data', (d: Buffer) => chunks.push(d))
    s.once('close', () => done(true))
    s.once('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' || e.code === 'EPIPE' ? done(true) : reject(e)))
  })
}
