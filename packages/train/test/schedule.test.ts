import { describe, it, expect } from 'vitest';
import { learningRateAt } from '../src/train/schedule.js';

describe('learning-rate schedules', () => {
  it('constant is constant after warm-up; warm-up is linear from lr/warmup', () => {
    const o = { schedule: 'constant' as const, lr: 1e-3, warmupSteps: 4, totalSteps: 100 };
    expect([0, 1, 2, 3].map((s) => learningRateAt(o, s))).toEqual([2.5e-4, 5e-4, 7.5e-4, 1e-3]);
    expect(learningRateAt(o, 50)).toBe(1e-3);
  });

  it('cosine goes from lr to lrFinal, halfway at the middle, monotonically', () => {
    const o = { schedule: 'cosine' as const, lr: 1e-3, lrFinal: 1e-5, totalSteps: 1000 };
    expect(learningRateAt(o, 0)).toBeCloseTo(1e-3, 15);
    expect(learningRateAt(o, 500)).toBeCloseTo((1e-3 + 1e-5) / 2, 15);
    expect(learningRateAt(o, 1000)).toBeCloseTo(1e-5, 15);
    expect(learningRateAt(o, 5000)).toBeCloseTo(1e-5, 15); // past the end: stays at the floor
    for (let s = 1; s <= 1000; s++) expect(learningRateAt(o, s)).toBeLessThanOrEqual(learningRateAt(o, s - 1));
  });

  it('cosine defaults lrFinal to lr/20', () => {
    expect(learningRateAt({ schedule: 'cosine', lr: 2e-4, totalSteps: 10 }, 10)).toBeCloseTo(1e-5, 15);
  });
});
