/**
 * A per-process cache whose values expire after `ttlMs`. Concurrent misses for one key share a single load,
 * so a burst of first requests makes one upstream call. A failed load is remembered for `failureTtlMs`, so a
 * failing upstream sees one call per key in that time instead of one per request. When full, the entry used
 * least recently goes: a caller cycling through new keys cannot flush the entries everyone else uses.
 */
export interface TtlCacheOptions {
  ttlMs: number;
  failureTtlMs: number;
  maxEntries: number;
  now?: () => number;
}

interface Entry<T> {
  value: Promise<T>;
  expiresAt: number;
}

export class TtlCache<T> {
  // NOTE: a Map iterates in insertion order; re-inserting on every hit keeps the least recently used first.
  private readonly entries = new Map<string, Entry<T>>();
  private readonly now: () => number;

  constructor(private readonly options: TtlCacheOptions) {
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: string, load: () => Promise<T>): Promise<T> {
    const hit = this.entries.get(key);
    this.entries.delete(key);
    if (hit && hit.expiresAt > this.now()) {
      this.entries.set(key, hit);
      return hit.value;
    }
    while (this.entries.size >= this.options.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) break;
      this.entries.delete(oldest.value);
    }
    const value = load();
    const entry: Entry<T> = { value, expiresAt: Number.POSITIVE_INFINITY };
    this.entries.set(key, entry);
    void value.then(
      () => {
        entry.expiresAt = this.now() + this.options.ttlMs;
      },
      () => {
        entry.expiresAt = this.now() + this.options.failureTtlMs;
      },
    );
    return value;
  }
}
