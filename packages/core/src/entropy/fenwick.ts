/**
 * Frequency table over symbols 0..n-1 with O(log n) cumulative lookups and updates (a Fenwick
 * / binary indexed tree). Used for the literal (per-codebook) distributions, whose alphabet can
 * be up to 65536 symbols, so linear scans per symbol would be too slow.
 */
export class FreqTable {
  readonly n: number;
  readonly freq: Int32Array;
  private readonly tree: Int32Array;
  private readonly topBit: number;
  total = 0;
  /** prefix(s) of the symbol s that findScaled last returned. */
  foundPrefix = 0;

  constructor(freqs: ArrayLike<number>) {
    this.n = freqs.length;
    this.freq = new Int32Array(this.n);
    this.tree = new Int32Array(this.n + 1);
    let top = 1;
    while (top * 2 <= this.n) top *= 2;
    this.topBit = top;
    this.reset(freqs);
  }

  /** Replace all frequencies; O(n). */
  reset(freqs: ArrayLike<number>): void {
    const { n, tree } = this;
    let total = 0;
    for (let i = 0; i < n; i++) {
      this.freq[i] = freqs[i];
      tree[i + 1] = freqs[i];
      total += freqs[i];
    }
    // Linear-time Fenwick construction: push each node's sum to its parent.
    for (let i = 1; i <= n; i++) {
      const parent = i + (i & -i);
      if (parent <= n) tree[parent] += tree[i];
    }
    this.total = total;
  }

  /** Sum of freq[0..s). */
  prefix(s: number): number {
    const tree = this.tree;
    let sum = 0;
    for (let i = s; i > 0; i -= i & -i) sum += tree[i];
    return sum;
  }

  add(s: number, delta: number): void {
    const { tree, n } = this;
    this.freq[s] += delta;
    this.total += delta;
    for (let i = s + 1; i <= n; i += i & -i) tree[i] += delta;
  }

  /** The symbol s with prefix(s) ≤ target < prefix(s+1); caller guarantees 0 ≤ target < total. */
  find(target: number): number {
    let pos = 0;
    let rem = target;
    for (let step = this.topBit; step > 0; step >>= 1) {
      const next = pos + step;
      if (next <= this.n && this.tree[next] <= rem) {
        pos = next;
        rem -= this.tree[next];
      }
    }
    return pos;
  }

  /**
   * Largest s in [0, n) with g(s) ≤ u, where g(s) = s + floor(prefix(s)·mass / total) is the
   * scaled cumulative of docs/format.md §6.3 (strictly increasing, so a Fenwick descent works).
   * Also leaves prefix(s) in `foundPrefix`: the descent has summed it already, and the caller
   * needs it for the symbol's interval, so this saves a second O(log n) walk.
   */
  findScaled(u: number, mass: number, total: number): number {
    const { tree, n } = this;
    let pos = 0;
    let sum = 0;
    for (let step = this.topBit; step > 0; step >>= 1) {
      const next = pos + step;
      if (next > n) continue;
      const s = sum + tree[next];
      // next + floor(s·mass/total) ≤ u, multiplied out (exact: both sides < 2^53).
      if (s * mass < (u - next + 1) * total) {
        pos = next;
        sum = s;
      }
    }
    // pos = n only when u is past g(n−1)'s interval, which a valid target never is; clamp anyway.
    if (pos === n) {
      pos = n - 1;
      sum -= this.freq[pos];
    }
    this.foundPrefix = sum;
    return pos;
  }
}
