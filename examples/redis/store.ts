/**
 * The keyspace of the Redis example: string values by binary-safe key (a latin1 string of the
 * key's bytes), each held as its RESP bulk reply (`$<n>\r\n<bytes>\r\n`, so GET answers
 * with the stored bytes, no copy), with expiry times. Expired keys are dropped when touched (as redis-server's
 * lazy expiry does) and by {@link Store.sweep}, which the server runs on the engine's tick
 * (redis-server's active expiry: a bounded slice of the keys with a TTL per run).
 */
export class Store {
  /** Values by key. */
  readonly values = new Map<string, Uint8Array>()
  /** Absolute expiry times (ms since the epoch) of the keys that have one. */
  readonly expires = new Map<string, number>()
  #cursor: Iterator<[string, number]> | undefined

  /** The value of a live key, dropping it first if it has expired. */
  get(key: string, now: number): Uint8Array | undefined {
    // Without keys that expire (the common case), one lookup, not two.
    const at = this.expires.size === 0 ? undefined : this.expires.get(key)
    if (at !== undefined && at <= now) this.delete(key)
    return this.values.get(key)
  }

  /** Sets a value; `ttl` in ms, or `undefined` to clear any expiry, or `'keep'` to keep it. */
  set(key: string, value: Uint8Array, ttl: number | undefined | 'keep', now: number): void {
    this.values.set(key, value)
    if (ttl === 'keep') return
    if (ttl === undefined) {
      if (this.expires.size > 0) this.expires.delete(key)
    } else this.expires.set(key, now + ttl)
  }

  /** Removes a key; true when it existed (expired or not). */
  delete(key: string): boolean {
    this.expires.delete(key)
    return this.values.delete(key)
  }

  /** Drops every key. */
  clear(): void {
    this.values.clear()
    this.expires.clear()
    this.#cursor = undefined
  }

  /** Drops up to `budget` expired keys, continuing where the last run stopped. */
  sweep(now: number, budget = 200): void {
    for (let i = 0; i < budget; i++) {
      this.#cursor ??= this.expires.entries()
      const next = this.#cursor.next()
      if (next.done === true) {
        this.#cursor = undefined
        return
      }
      const [key, at] = next.value
      if (at <= now) this.delete(key)
    }
  }
}
