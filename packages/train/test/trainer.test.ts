import { afterAll, describe, it, expect } from 'vitest';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { train, type TrainOptions } from '../src/train/trainer.js';
import { loadCheckpoint } from '../src/train/checkpoint.js';
import { makeImageDir, tempDir, removeTempDirs } from './fixtures/images.js';
import { tinyConfig } from './fixtures/configs.js';

const config = tinyConfig('trainer-test');

function options(dataDir: string, outDir: string, steps: number, resume = false): TrainOptions {
  return {
    config,
    dataDir,
    outDir,
    steps,
    batchSize: 2,
    cropSize: 16,
    learningRate: 1e-3,
    clipNorm: 1,
    seed: 3,
    validateEvery: 2,
    validationCrops: 4,
    maxSide: 0,
    resume,
    backend: 'cpu',
  };
}

afterAll(removeTempDirs);

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

  it('refuses to resume with a different config', async () => {
    const data = await makeImageDir(3);
    const out = tempDir();
    await train(options(data, out, 1));
    const other = { ...options(data, out, 2, true), config: { ...config, channels: 12 } };
    await expect(train(other)).rejects.toThrow(/different config/);
  });
});
