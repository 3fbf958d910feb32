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
    let sum = 0;
    for (let i = s; i > 0; i -= i & -i) sum += this.tree[i];
    return sum;
  }

  add(s: number, delta: number): void {
    this.freq[s] += delta;
    this.total += delta;
    for (let i = s + 1; i <= this.n; i += i & -i) this.tree[i] += delta;
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
   */
  findScaled(u: number, mass: number, total: number): number {
    let pos = 0;
    let sum = 0;
    for (let step = this.topBit; step > 0; step >>= 1) {
      const next = pos + step;
      if (next > this.n) continue;
      const s = sum + this.tree[next];
      if (next + Math.floor((s * mass) / total) <= u) {
        pos = next;
        sum = s;
      }
    }
    return Math.min(pos, this.n - 1);
  }
}
