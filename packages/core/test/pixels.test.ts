/** colourSamples (packages/core/src/pixels.ts): the colour part of interleaved pixels, used by the benchmarks' metrics. */
import { describe, expect, it } from 'vitest';
import { colourSamples } from '../src/index.js';

describe('colourSamples', () => {
  it('drops alpha from RGBA and grey+alpha pixels', () => {
    expect([...colourSamples(Uint8Array.from([1, 2, 3, 255, 4, 5, 6, 128]), 4, 3)]).toEqual([1, 2, 3, 4, 5, 6]);
    expect([...colourSamples(Uint8Array.from([7, 255, 8, 0]), 2, 1)]).toEqual([7, 8]);
  });

  it('returns the input itself when there is nothing to drop', () => {
    const rgb = Uint8Array.from([1, 2, 3]);
    expect(colourSamples(rgb, 3, 3)).toBe(rgb);
  });
});
