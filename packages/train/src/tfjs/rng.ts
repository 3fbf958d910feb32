/**
 * A small deterministic PRNG (mulberry32) for everything random in training that is not a tfjs
 * op: weight initialisation, codebook initialisation and dead-code re-initialisation. Its whole
 * state is one uint32, so a checkpoint can save and restore it exactly (see `state`/`setState`).
 * Results are identical on every backend and platform (pure integer arithmetic + one float
 * division).
 */
export class Rng {
  private s: number;

  constructor(seed: number) {
    // Mix the seed so that nearby seeds (1, 2, 3 …) give unrelated streams.
    this.s = hashU32(seed >>> 0, 0x9e3779b9);
  }

  /** Next uint32. */
  nextU32(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Standard normal (Box–Muller; one value per call, the pair's twin is discarded for simplicity). */
  normal(): number {
    const u = 1 - this.next(); // (0, 1]
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /**
   * `count` distinct integers from [0, n) in random order (partial Fisher–Yates over a sparse
   * map, O(count) memory). Requires count ≤ n.
   */
  distinct(n: number, count: number): number[] {
    if (count > n) throw new RangeError(`cannot draw ${count} distinct values from ${n}`);
    const swapped = new Map<number, number>();
    const out: number[] = [];
    for (let i = 0; i < count; i++) {
      const j = i + this.int(n - i);
      const vi = swapped.get(i) ?? i;
      const vj = swapped.get(j) ?? j;
      swapped.set(j, vi);
      out.push(vj);
    }
    return out;
  }

  /** A child generator with an independent stream (deterministic given this one's state). */
  fork(tag: number): Rng {
    return new Rng(hashU32(this.nextU32(), tag >>> 0));
  }

  get state(): number {
    return this.s;
  }

  set state(s: number) {
    if (!Number.isInteger(s) || s < 0 || s > 0xffffffff) throw new RangeError(`bad RNG state ${s}`);
    this.s = s >>> 0;
  }
}

/** A 32-bit mix of two integers (murmur3 finaliser). */
export function hashU32(a: number, b: number): number {
  let h = (a ^ Math.imul(b, 0x85ebca6b)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
