import { describe, expect, it } from 'vitest';
import { fromBase64, toBase64 } from '../src/bytes.js';
import { crc32 } from '../src/index.js';
import { FreqTable } from '../src/entropy/fenwick.js';
import { MAX_TOTAL, RangeDecoder, RangeEncoder } from '../src/entropy/rangeCoder.js';
import { rng } from './synthetic.js';

/** Cumulative table from frequencies. */
function cumulative(freqs: number[]): number[] {
  const cum = [0];
  for (const f of freqs) cum.push(cum[cum.length - 1] + f);
  return cum;
}

function roundTrip(freqs: number[], symbols: number[]): Uint8Array {
  const cum = cumulative(freqs);
  const total = cum[cum.length - 1];
  const enc = new RangeEncoder(4);
  for (const s of symbols) enc.encode(cum[s], freqs[s], total);
  const bytes = enc.finish();
  const dec = new RangeDecoder(bytes);
  for (const s of symbols) {
    const t = dec.decodeTarget(total);
    let k = 0;
    while (cum[k + 1] <= t) k++;
    expect(k).toBe(s);
    dec.consume(cum[k], freqs[k]);
  }
  return bytes;
}

describe('range coder', () => {
  it('round-trips random symbols under random tables, including total = 2^16', () => {
    const rand = rng(1);
    for (let trial = 0; trial < 40; trial++) {
      const n = 2 + Math.floor(rand() * 300);
      const freqs = Array.from({ length: n }, () => 1 + Math.floor(rand() ** 4 * 2000));
      if (trial === 0) freqs.splice(0, n, ...Array.from({ length: n }, (_, i) => (i === 0 ? MAX_TOTAL - (n - 1) : 1)));
      const total = freqs.reduce((a, b) => a + b, 0);
      if (total > MAX_TOTAL) continue;
      const symbols = Array.from({ length: 1 + Math.floor(rand() * 2000) }, () => Math.floor(rand() * n));
      roundTrip(freqs, symbols);
    }
  });

  it('handles long runs of the most and least probable symbol (carry propagation)', () => {
    const freqs = [MAX_TOTAL - 1, 1];
    roundTrip(freqs, Array.from({ length: 20000 }, () => 0));
    roundTrip(freqs, Array.from({ length: 500 }, () => 1));
    roundTrip(freqs, Array.from({ length: 5000 }, (_, i) => (i % 97 === 0 ? 1 : 0)));
  });

  it('costs close to the ideal code length', () => {
    const freqs = [30000, 20000, 10000, 5536];
    const rand = rng(5);
    const symbols = Array.from({ length: 20000 }, (): number => {
      const u = rand() * MAX_TOTAL;
      return u < 30000 ? 0 : u < 50000 ? 1 : u < 60000 ? 2 : 3;
    });
    const ideal = symbols.reduce((a, s) => a - Math.log2(freqs[s] / MAX_TOTAL), 0) / 8;
    const bytes = roundTrip(freqs, symbols);
    expect(bytes.length).toBeLessThan(ideal * 1.005 + 8);
  });

  it('encodes nothing into an empty stream, and decodes an empty stream as zeros', () => {
    expect(new RangeEncoder().finish().length).toBe(0);
    const dec = new RangeDecoder(new Uint8Array(0));
    expect(dec.decodeTarget(10)).toBe(0);
  });
});

describe('Fenwick frequency table', () => {
  it('agrees with a naive table under updates', () => {
    const rand = rng(3);
    const n = 37;
    const naive = Array.from({ length: n }, () => 1 + Math.floor(rand() * 50));
    const t = new FreqTable(naive);
    for (let step = 0; step < 500; step++) {
      const s = Math.floor(rand() * n);
      const d = Math.floor(rand() * 20);
      naive[s] += d;
      t.add(s, d);
      const cum = cumulative(naive);
      const q = Math.floor(rand() * n);
      expect(t.prefix(q)).toBe(cum[q]);
      const target = Math.floor(rand() * cum[n]);
      expect(cum[t.find(target)]).toBeLessThanOrEqual(target);
      expect(cum[t.find(target) + 1]).toBeGreaterThan(target);
    }
  });
});

describe('crc32 and base64', () => {
  it('matches the standard CRC-32 check value', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });

  it('base64 round-trips every length and rejects malformed input', () => {
    for (let n = 0; n < 10; n++) {
      const b = Uint8Array.from({ length: n }, (_, i) => (i * 97 + 13) & 0xff);
      expect(fromBase64(toBase64(b))).toEqual(b);
    }
    expect(toBase64(new TextEncoder().encode('foobar'))).toBe('Zm9vYmFy');
    expect(toBase64(new TextEncoder().encode('fo'))).toBe('Zm8=');
    for (const bad of ['Zm9', 'Zm=v', 'Z!9v', '=m9v', 'Zm9v\u00e9aaa']) expect(fromBase64(bad)).toBeNull();
  });
});
