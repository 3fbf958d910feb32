import { afterAll, describe, it, expect } from 'vitest';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { train, type TrainEvent, type TrainOptions } from '../src/train/trainer.js';
import { loadCheckpoint } from '../src/train/checkpoint.js';
import { makeImageDir, tempDir, removeTempDirs } from './fixtures/images.js';
import { smallRunOptions, tinyConfig } from './fixtures/configs.js';

const config = tinyConfig('trainer-test');

function options(dataDir: string, outDir: string, steps: number, resume = false): TrainOptions {
  return smallRunOptions(config, dataDir, outDir, steps, resume);
}

afterAll(removeTempDirs);

/** An event handler that aborts training right after the checkpoint of step n (a simulated crash). */
function stopAfter(n: number): (e: TrainEvent) => void {
  return (e) => {
    if (e.kind === 'checkpoint' && e.step >= n) throw new Error('simulated crash');
  };
}

describe('training loop', () => {
  it('resumes exactly: 2 + 2 steps equal 4 steps (weights, codebooks, EMA, Adam, sampler)', async () => {
    const data = await makeImageDir(4);
    const straight = tempDir();
    await train(options(data, straight, 4));
    const resumed = tempDir();
    await train(options(data, resumed, 2));
    await train(options(data, resumed, 4, true));
    const a = await loadCheckpoint(join(straight, 'checkpoint'));
    const b = await loadCheckpoint(join(resumed, 'checkpoint'));
    expect(b.step).toBe(4);
    expect([...b.weights.keys()]).toEqual([...a.weights.keys()]);
    for (const [name, t] of a.weights) expect(Array.from(b.weights.get(name)!.data), name).toEqual(Array.from(t.data));
    for (let i = 0; i < a.optimizer.length; i++) expect(Array.from(b.optimizer[i].data)).toEqual(Array.from(a.optimizer[i].data));
  });

  it('writes metrics as JSON lines and a reconstruction grid per validation', async () => {
    const data = await makeImageDir(3);
    const out = tempDir();
    const r = await train(options(data, out, 2));
    const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.filter((l) => l.type === 'step')).toHaveLength(2);
    expect(lines.filter((l) => l.type === 'validation').length).toBeGreaterThanOrEqual(2);
    for (const v of r.validations) expect(existsSync(v.gridPath)).toBe(true);
    expect(r.validations[0].perplexity).toHaveLength(2);
  });

  it('--init starts from another checkpoint: its weights at step 0, then a fresh optimizer', async () => {
    const data = await makeImageDir(3);
    const base = tempDir();
    await train(options(data, base, 2));
    const baseCk = await loadCheckpoint(join(base, 'checkpoint'));
    // Zero steps after init: the first validation/checkpoint must hold the base weights exactly.
    const tuned = tempDir();
    const r = await train({ ...options(data, tuned, 1), initFrom: join(base, 'checkpoint'), learningRate: 0 });
    expect(r.validations[0].mse).toBeCloseTo((await train({ ...options(data, tempDir(), 1), resume: false, initFrom: join(base, 'checkpoint'), learningRate: 0 })).validations[0].mse, 10);
    const ck = await loadCheckpoint(join(tuned, 'checkpoint'));
    expect(ck.step).toBe(1);
    // lr 0: gradient updates change nothing, so only the EMA codebooks may differ from the base.
    for (const [name, t] of baseCk.weights) {
      if (/codebook|ema|quant/.test(name)) continue;
      expect(Array.from(ck.weights.get(name)!.data), name).toEqual(Array.from(t.data));
    }
    expect(ck.optimizer.find((o) => o.name === 'step')!.data[0]).toBe(1);
    await expect(train({ ...options(data, tempDir(), 1, true), initFrom: join(base, 'checkpoint') })).rejects.toThrow(/exclude each other/);
    await expect(train({ ...options(data, tempDir(), 1), initFrom: join(base, 'checkpoint'), config: { ...config, channels: 12 } })).rejects.toThrow(/different config/);
  });

  it('a cosine schedule is recorded per step and resumes exactly', async () => {
    const data = await makeImageDir(3);
    const sched = { lrSchedule: 'cosine' as const, lrFinal: 1e-4, warmupSteps: 1 };
    const straight = tempDir();
    await train({ ...options(data, straight, 4), ...sched });
    const resumed = tempDir();
    // The schedule spans the run's total steps, so the first half is a 4-step run stopped at 2.
    await train({ ...options(data, resumed, 4), ...sched, onEvent: stopAfter(2) }).catch(() => undefined);
    await train({ ...options(data, resumed, 4, true), ...sched });
    const stepLrs = (dir: string): number[] =>
      readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((l) => l.type === 'step').map((l) => l.lr);
    const lrs = stepLrs(straight);
    expect(lrs[0]).toBeCloseTo(1e-3, 12); // warm-up of one step ends at the full rate
    expect(lrs[3]).toBeLessThan(lrs[1]);
    expect(lrs[3]).toBeGreaterThanOrEqual(1e-4);
    expect(stepLrs(resumed)).toEqual(lrs);
    const a = await loadCheckpoint(join(straight, 'checkpoint'));
    const b = await loadCheckpoint(join(resumed, 'checkpoint'));
    for (const [name, t] of a.weights) expect(Array.from(b.weights.get(name)!.data), name).toEqual(Array.from(t.data));
  });

  it('refuses to resume with a different config', async () => {
    const data = await makeImageDir(3);
    const out = tempDir();
    await train(options(data, out, 1));
    const other = { ...options(data, out, 2, true), config: { ...config, channels: 12 } };
    await expect(train(other)).rejects.toThrow(/different config/);
  });
});
