/**
 * The replies to one read's commands, gathered in one reused buffer so they leave in one
 * `conn.write` (which copies what it is given, so the buffer serves the next read at once).
 */
export class Replies {
  #bytes = Buffer.allocUnsafe(16 * 1024)
  #used = 0

  /** Appends an encoded reply (grows the buffer, doubling, when it does not fit). */
  push(reply: Uint8Array): void {
    const end = this.#used + reply.length
    if (end > this.#bytes.length) {
      const grown = Buffer.allocUnsafe(Math.max(end, 2 * this.#bytes.length))
      grown.set(this.#bytes.subarray(0, this.#used))
      this.#bytes = grown
    }
    this.#bytes.set(reply, this.#used)
    this.#used = end
  }

  /** Nothing was appended since the last `take`. */
  get empty(): boolean {
    return this.#used === 0
  }

  /** What was appended since the last `take` (valid until the next `push`); starts over. */
  take(): Uint8Array {
    const out = this.#bytes.subarray(0, this.#used)
    this.#used = 0
    return out
  }
}
