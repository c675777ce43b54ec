/**
 * An immutable map for the few entries a session keeps per key (requests in flight, calls per tool).
 * `with` and `without` return a new map and share nothing mutable with the old one. Backed by two
 * arrays: for a handful of entries, copying and scanning them is several times cheaper than copying a
 * `Map`, which matters on the per-message path. Lookups are linear; sizes are bounded by the caller.
 */
export class SmallMap<K, V> implements ReadonlyMap<K, V> {
  static empty<K, V>(): SmallMap<K, V> {
    return new SmallMap<K, V>([], []);
  }

  private constructor(
    private readonly ks: readonly K[],
    private readonly vs: readonly V[],
  ) {}

  get size(): number {
    return this.ks.length;
  }

  get(key: K): V | undefined {
    const i = this.ks.indexOf(key);
    return i < 0 ? undefined : this.vs[i];
  }

  has(key: K): boolean {
    return this.ks.indexOf(key) >= 0;
  }

  /** A new map with `key` set to `value`. */
  with(key: K, value: V): SmallMap<K, V> {
    const i = this.ks.indexOf(key);
    if (i < 0) {
      const ks = this.ks.slice();
      const vs = this.vs.slice();
      ks.push(key);
      vs.push(value);
      return new SmallMap(ks, vs);
    }
    if (this.vs[i] === value) return this;
    const vs = this.vs.slice();
    vs[i] = value;
    return new SmallMap(this.ks, vs);
  }

  /** A new map without `key` (this map when the key is absent). */
  without(key: K): SmallMap<K, V> {
    const i = this.ks.indexOf(key);
    if (i < 0) return this;
    if (this.ks.length === 1) return SmallMap.empty();
    const ks = this.ks.slice(0, i);
    const vs = this.vs.slice(0, i);
    for (let j = i + 1; j < this.ks.length; j++) {
      ks.push(this.ks[j]!);
      vs.push(this.vs[j]!);
    }
    return new SmallMap(ks, vs);
  }

  forEach(fn: (value: V, key: K, map: ReadonlyMap<K, V>) => void): void {
    for (let i = 0; i < this.ks.length; i++) fn(this.vs[i]!, this.ks[i]!, this);
  }

  *entries(): MapIterator<[K, V]> {
    for (let i = 0; i < this.ks.length; i++) yield [this.ks[i]!, this.vs[i]!];
  }

  keys(): MapIterator<K> {
    return this.ks[Symbol.iterator]() as MapIterator<K>;
  }

  values(): MapIterator<V> {
    return this.vs[Symbol.iterator]() as MapIterator<V>;
  }

  [Symbol.iterator](): MapIterator<[K, V]> {
    return this.entries();
  }
}
