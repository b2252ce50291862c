// Recent values per machine, for the fleet view's sparklines: a fixed ring of `size` values
// per key, every ring in one typed array that grows by doubling (a typed array per machine
// would be 22,000 allocations on the first load at 2,000 hosts x 10 containers).

export class Rings {
  private slots = new Map<string, number>();
  private free: number[] = [];
  private used = 0;
  private round = 0;
  private data: Float32Array;
  private next: Uint16Array;
  private count: Uint16Array;
  private seen: Uint32Array;

  constructor(
    private size: number,
    capacity = 1024,
  ) {
    this.data = new Float32Array(size * capacity);
    this.next = new Uint16Array(capacity);
    this.count = new Uint16Array(capacity);
    this.seen = new Uint32Array(capacity);
  }

  /// Starts a round of updates for about `keys` keys: the keys not pushed before the next
  /// `sweep` are dropped then.
  begin(keys: number) {
    this.round++;
    this.reserve(keys);
  }

  /// Keeps `key` for this round and adds `v` to its ring (a key gets a ring with its first value).
  push(key: string, v?: number) {
    let s = this.slots.get(key);
    if (s === undefined) {
      if (v === undefined) return;
      s = this.free.pop() ?? this.used++;
      this.reserve(s + 1);
      this.next[s] = 0;
      this.count[s] = 0;
      this.slots.set(key, s);
    }
    this.seen[s] = this.round;
    if (v === undefined) return;
    this.data[s * this.size + this.next[s]] = v;
    this.next[s] = (this.next[s] + 1) % this.size;
    if (this.count[s] < this.size) this.count[s]++;
  }

  /// Drops the keys not pushed since `begin`.
  sweep() {
    for (const [key, s] of this.slots) {
      if (this.seen[s] !== this.round) {
        this.slots.delete(key);
        this.free.push(s);
      }
    }
  }

  /// A key's values, oldest first.
  values(key: string): number[] {
    const s = this.slots.get(key);
    if (s === undefined) return [];
    const out: number[] = [];
    const base = s * this.size;
    for (let i = this.count[s]; i > 0; i--) out.push(this.data[base + ((this.next[s] - i + this.size) % this.size)]);
    return out;
  }

  private reserve(keys: number) {
    let cap = this.next.length;
    if (keys <= cap) return;
    while (cap < keys) cap *= 2;
    const data = new Float32Array(this.size * cap);
    data.set(this.data);
    this.data = data;
    const grown = <T extends Uint16Array | Uint32Array>(a: T, b: T): T => {
      b.set(a);
      return b;
    };
    this.next = grown(this.next, new Uint16Array(cap));
    this.count = grown(this.count, new Uint16Array(cap));
    this.seen = grown(this.seen, new Uint32Array(cap));
  }
}
