import { afterAll, describe, it, expect } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './run.js';
import { makeImageDir, tempDir, removeTempDirs } from '../../packages/train/test/fixtures/images.js';

const tiny = JSON.stringify({ levels: [{ stride: 2, M: 2, K: 8, D: 4 }, { stride: 4, M: 2, K: 8, D: 4 }], channels: 8, resBlocks: 1, resHidden: 4 });

function tmp(): string {
  return tempDir();
}

/** A user error: exit 1, exactly one line on stderr, no stack trace. */
function expectUserError(r: { code: number | null; stderr: string }, pattern: RegExp): void {
  expect(r.code).toBe(1);
  // Warnings may precede it; the error itself is a single line.
  const lines = r.stderr.trim().split('\n').filter((l) => !l.startsWith('warning: '));
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^dqcodec: /);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

afterAll(removeTempDirs);

describe('dqcodec train', () => {
  it('trains end to end and writes a checkpoint', async () => {
    const data = await makeImageDir(3);
    const dir = tmp();
    const cfg = join(dir, 'cfg.json');
    writeFileSync(cfg, tiny);
    const r = runCli(['train', '-c', cfg, '-d', data, '-o', join(dir, 'run'), '--steps', '2', '--batch', '2', '--crop', '16', '--val-every', '2', '--val-crops', '2', '--backend', 'cpu']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/validation PSNR/);
    expectUserError(runCli(['export', join(dir, 'run'), '-o', join(dir, 'm'), '--default-quality', '2']), /--default-quality applies to transform models only/);
  });

  it('missing data directory', () => {
    const d = tmp();
    expectUserError(runCli(['train', '-c', 'tiny', '-d', join(d, 'nope'), '-o', join(d, 'out'), '--crop', '16']), /does not exist/);
  });

  it('empty data directory and unreadable files', () => {
    const d = tmp();
    writeFileSync(join(d, 'notes.txt'), 'not an image');
    expectUserError(runCli(['train', '-c', 'tiny', '-d', d, '-o', join(tmp(), 'out'), '--crop', '16']), /no readable images .*tried 1 file/);
  });

  it('invalid config names the field', () => {
    const d = tmp();
    const cfg = join(d, 'bad.json');
    writeFileSync(cfg, JSON.stringify({ ...JSON.parse(tiny), levels: [{ stride: 3, M: 2, K: 8, D: 4 }] }));
    expectUserError(runCli(['train', '-c', cfg, '-d', d, '-o', join(d, 'out')]), /levels\[0\]\.stride must be a power of two/);
    writeFileSync(cfg, '{ not json');
    expectUserError(runCli(['train', '-c', cfg, '-d', d, '-o', join(d, 'out')]), /bad\.json/);
    expectUserError(runCli(['train', '-c', 'no-such-config', '-d', d, '-o', join(d, 'out')]), /not a built-in config/);
  });

  it('crop larger than every image', async () => {
    const data = await makeImageDir(2, 24, 20);
    expectUserError(runCli(['train', '-c', 'tiny', '-d', data, '-o', join(tmp(), 'out'), '--crop', '64']), /crop 64×64 is larger than every image \(largest is 24×20/);
  });

  it('--resume with --init, and an unknown --lr-schedule', () => {
    const d = tmp();
    expectUserError(runCli(['train', '-c', 'tiny', '-d', d, '-o', join(d, 'out'), '--resume', '--init', d]), /--resume and --init exclude each other/);
    const r = runCli(['train', '-c', 'tiny', '-d', d, '-o', join(d, 'out'), '--lr-schedule', 'linear']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Allowed choices are constant, cosine/);
  });

  it('a rate model trains with --lambda and reports its predicted rate; λ and --init-trunk misuse are one-line errors', async () => {
    const data = await makeImageDir(3);
    const dir = tmp();
    const r = runCli(['train', '-c', 'rd-tiny', '-d', data, '-o', join(dir, 'run'), '--lambda', '0.01', '--steps', '2', '--batch', '2', '--crop', '16', '--val-every', '2', '--val-crops', '2', '--backend', 'cpu']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/validation PSNR [\d.]+ dB at [\d.]+ bpp \(predicted by the prior\)/);
    const d = tmp();
    expectUserError(runCli(['train', '-c', 'rd-tiny', '-d', d, '-o', join(d, 'out')]), /is a rate model .*give --lambda/);
    expectUserError(runCli(['train', '-c', 'tiny', '-d', d, '-o', join(d, 'out'), '--lambda', '0.01']), /--lambda needs a rate model/);
    expectUserError(runCli(['train', '-c', 'tiny', '-d', d, '-o', join(d, 'out'), '--init-trunk']), /--init-trunk needs --init/);
  });

  it('a transform config trains its refiner, exports as a family, and refuses DQ-AE-only flags', async () => {
    const data = await makeImageDir(3, 48, 48);
    const dir = tmp();
    const cfg = join(dir, 'tc.json');
    writeFileSync(cfg, JSON.stringify({ name: 'tc-cli', kind: 'transform', K: 256, lumaStep: 10, chromaStep: 16, tilt: 0.3, topStep: 2, topMaxStep: 8, qualities: [4, 1], refiner: { channels: 4, resBlocks: 0, resHidden: 2 } }));
    const run = join(dir, 'run');
    const r = runCli(['train', '-c', cfg, '-d', data, '-o', run, '--steps', '2', '--batch', '2', '--crop', '32', '--val-every', '2', '--val-crops', '2', '--backend', 'cpu']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/validation step 2: q1 [\d.]+ dB \(untrained [\d.]+, preview [\d.]+\), q2 /);
    const out = join(dir, 'family');
    const e = runCli(['export', run, '-o', out, '--default-quality', '2']);
    expect(e.code, e.stderr).toBe(0);
    expect(e.stdout).toMatch(/family of 2 qualities/);
    const fam = JSON.parse(readFileSync(join(out, 'family.json'), 'utf8'));
    expect(fam.defaultQuality).toBe(2);
    expectUserError(runCli(['export', run, '-o', out]), /already exists/);
    expectUserError(runCli(['export', run, '-o', join(dir, 'f2'), '--default-quality', '3']), /qualities 1–2/);
    expectUserError(runCli(['export', run, '-o', join(dir, 'f3'), '--name', 'x']), /--name does not apply to transform model tc-cli/);
    expectUserError(runCli(['train', '-c', cfg, '-d', data, '-o', join(dir, 'x'), '--lambda', '0.01']), /--lambda does not apply to transform model tc-cli/);
    expectUserError(runCli(['train', '-c', cfg, '-d', data, '-o', join(dir, 'x'), '--crop', '24']), /multiple of 16/);
  });

  it('bad flag values are rejected by the parser', () => {
    const r = runCli(['train', '-c', 'tiny', '-d', '.', '-o', 'x', '--steps', 'many']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/expected an integer/);
  });
});
