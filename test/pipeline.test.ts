/**
 * The whole product through the real CLI, as a user would run it: photos → train → export →
 * fit-entropy → encode → info → decode, and a file decoded with the wrong model is refused.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { runCli } from '../cli/test/run.js';
import { makeImageDir, tempDir, removeTempDirs } from '../packages/train/test/fixtures/images.js';

afterAll(removeTempDirs);

const config = { levels: [{ stride: 2, M: 2, K: 16, D: 4 }, { stride: 4, M: 2, K: 16, D: 4 }], channels: 8, resBlocks: 1, resHidden: 4 };

function ok(args: string[]): string {
  const r = runCli(args, { timeoutMs: 120_000 });
  expect(r.code, `dqcodec ${args.join(' ')}\n${r.stderr}`).toBe(0);
  return r.stdout + r.stderr;
}

describe('train → export → fit-entropy → encode → decode', () => {
  it('round-trips a photo through a freshly trained model', async () => {
    const data = await makeImageDir(4, 40, 32);
    const dir = tempDir();
    const cfg = join(dir, 'config.json');
    writeFileSync(cfg, JSON.stringify(config));
    ok(['train', '-c', cfg, '-d', data, '-o', join(dir, 'run'), '--steps', '6', '--batch', '2', '--crop', '16', '--val-every', '3', '--val-crops', '2', '--backend', 'cpu', '-q']);
    const model = join(dir, 'model');
    ok(['export', join(dir, 'run'), '-o', model, '-q']);
    ok(['fit-entropy', '-m', model, '--data', data, '-q']);

    const photo = join(data, 'img0.png');
    ok(['encode', photo, '-o', join(dir, 'a.dqc'), '-m', model, '-q']);
    const info = JSON.parse(runCli(['info', join(dir, 'a.dqc'), '--json']).stdout);
    expect(info.width).toBe(40);
    expect(info.height).toBe(32);
    expect(info.levels).toHaveLength(2);
    ok(['decode', join(dir, 'a.dqc'), '-o', join(dir, 'a.png'), '-m', model, '-q']);
    const meta = await sharp(join(dir, 'a.png')).metadata();
    expect([meta.width, meta.height]).toEqual([40, 32]);

    // Another model (different weights) must refuse the file instead of decoding garbage.
    const other = join(dir, 'other');
    ok(['train', '-c', cfg, '-d', data, '-o', join(dir, 'run2'), '--steps', '1', '--batch', '2', '--crop', '16', '--seed', '9', '--backend', 'cpu', '-q']);
    ok(['export', join(dir, 'run2'), '-o', other, '-q']);
    const r = runCli(['decode', join(dir, 'a.dqc'), '-o', join(dir, 'b.png'), '-m', other]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/model/i);
    expect(existsSync(join(dir, 'b.png'))).toBe(false);
  });
});
