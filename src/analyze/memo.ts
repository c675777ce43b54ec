/**
 * A bounded memo of a pure function of a string that only keeps values seen twice. Agents repeat the
 * same recipients, paths and subjects call after call, and those are worth remembering; most other
 * values (a message body, a result's text, what a value decodes to) come once, and storing them would
 * cost a map insertion per call, keep garbage alive into the old generation, and evict the values that
 * do repeat. A value's first sighting leaves only its hash in a fixed table of 32-bit slots (no string
 * kept); a sighting that finds its hash there stores the answer. A hash collision only admits a value
 * early, and a slot overwritten by another value only delays admission: what `get` returns is always
 * `compute(key)`, memoized or not. Memory is bounded by `capacity` entries plus the table.
 */
export class Memo<V> {
  private readonly map = new Map<string, V>();
  private readonly seen: Int32Array;
  private readonly mask: number;

  /** `capacity` answers kept (cleared when full); `slots` (a power of two) hashes of values seen once. */
  constructor(
    private readonly capacity: number,
    private readonly compute: (key: string) => V,
    slots = 16_384,
  ) {
    if (slots & (slots - 1)) throw new RangeError('slots must be a power of two');
    this.seen = new Int32Array(slots);
    this.mask = slots - 1;
  }

  get(key: string): V {
    const hit = this.map.get(key);
    if (hit !== undefined) return hit;
    const value = this.compute(key);
    if (this.secondSighting(key)) {
      if (this.map.size >= this.capacity) this.map.clear();
      this.map.set(key, value);
    }
    return value;
  }

  get size(): number {
    return this.map.size;
  }

  /** Records the key's hash; true when it was already recorded (the key, or a colliding one, was seen). */
  private secondSighting(key: string): boolean {
    // FNV-1a over the UTF-16 units and the length; 0 marks an empty slot, so a zero hash is moved.
    let h = 0x811c9dc5 ^ key.length;
    for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
    h = h === 0 ? 1 : h;
    const slot = (h ^ (h >>> 15)) & this.mask;
    if (this.seen[slot] === h) return true;
    this.seen[slot] = h;
    return false;
  }
}
