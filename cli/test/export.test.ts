import { afterAll, beforeAll, describe, it, expect } from 'vitest';
import { existsSync, readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from './run.js';
import { train } from '../../packages/train/src/train/trainer.js';
import { parseModelConfig } from '../../packages/train/src/model/config.js';
import { makeImageDir, tempDir, removeTempDirs } from '../../packages/train/test/fixtures/images.js';

let run = '';
beforeAll(async () => {
  const data = await makeImageDir(3);
  run = tempDir();
  const config = parseModelConfig({ levels: [{ stride: 2, M: 2, K: 8, D: 4 }, { stride: 4, M: 1, K: 8, D: 8 }], channels: 8, resBlocks: 1, resHidden: 4 });
  await train({ config, dataDir: data, outDir: run, steps: 1, batchSize: 2, cropSize: 16, learningRate: 1e-3, clipNorm: 1, seed: 1, validateEvery: 1, validationCrops: 2, maxSide: 0, resume: false, backend: 'cpu' });
});
afterAll(removeTempDirs);

describe('dqcodec export', () => {
  it('exports a checkpoint to three graphs and a manifest', () => {
    const out = join(tempDir(), 'model');
    const r = runCli(['export', run, '-o', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/exported step 1/);
    expect(readdirSync(out).sort()).toEqual(['decoder.onnx', 'encoder.onnx', 'manifest.json', 'quantizer.onnx']);
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
    expect(manifest.levels.map((l: { M: number }) => l.M)).toEqual([2, 1]);
    expect(manifest.fingerprint).toMatch(/^[0-9a-f]{64}$/);
  });

  it('refuses an existing output directory unless --overwrite, leaving it untouched', () => {
    const out = join(tempDir(), 'model');
    mkdirSync(out);
    writeFileSync(join(out, 'keep.txt'), 'x');
    const r = runCli(['export', run, '-o', out]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(/^dqcodec: .*exists/);
    expect(readdirSync(out)).toEqual(['keep.txt']);
    expect(runCli(['export', run, '-o', out, '--overwrite', '-q']).code).toBe(0);
    expect(existsSync(join(out, 'decoder.onnx'))).toBe(true);
  });

  it('missing or corrupt checkpoints fail with one clear line and leave nothing behind', () => {
    const dir = tempDir();
    const out = join(dir, 'model');
    let r = runCli(['export', join(dir, 'nope'), '-o', out]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(/^dqcodec: checkpoint .* does not exist$/);
    const broken = join(dir, 'broken');
    mkdirSync(broken);
    writeFileSync(join(broken, 'checkpoint.json'), '{"format":"dqcodec-checkpoint","version":99}');
    r = runCli(['export', broken, '-o', out]);
    expect(r.stderr.trim()).toMatch(/^dqcodec: .*format version 99 is not supported/);
    writeFileSync(join(broken, 'checkpoint.json'), readFileSync(join(run, 'checkpoint', 'checkpoint.json')));
    writeFileSync(join(broken, 'weights.bin'), Buffer.alloc(12));
    r = runCli(['export', broken, '-o', out]);
    expect(r.stderr.trim()).toMatch(/^dqcodec: .*weights\.bin has 12 bytes.*truncated/);
    expect(existsSync(out)).toBe(false);
  });
});
