/** Export failures: clear errors that name the culprit, and nothing left on disk. */
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildArchitecture, type Op } from '../src/model/architecture.js';
import { parseModelConfig } from '../src/model/config.js';
import { ExportError, exportArchitecture, exportModel, type Weights } from '../src/export/exportModel.js';
import { randomWeights } from '../src/export/randomWeights.js';

const work = mkdtempSync(join(tmpdir(), 'dqc-export-err-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const cfg = parseModelConfig({
  name: 'err',
  levels: [{ stride: 4, M: 2, K: 16, D: 4 }, { stride: 8, M: 2, K: 16, D: 4 }],
  channels: 8,
  resBlocks: 1,
  resHidden: 4,
});

function clone(w: Weights): Weights {
  return new Map([...w].map(([k, v]) => [k, { shape: [...v.shape], data: v.data.slice() }]));
}

/** Runs a failing export into a fresh parent and checks that the parent is still empty. */
async function expectCleanFailure(run: (outDir: string) => Promise<unknown>, message: RegExp): Promise<void> {
  const parent = join(work, `case-${Math.random().toString(36).slice(2)}`);
  mkdirSync(parent);
  const outDir = join(parent, 'model');
  const err = await run(outDir).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ExportError);
  expect((err as Error).message).toMatch(message);
  expect(readdirSync(parent)).toEqual([]);
}

describe('export errors', () => {
  const weights = randomWeights(cfg, 1);

  it('a missing weight is named', async () => {
    const w = clone(weights);
    w.delete('up1/conv0.w');
    await expectCleanFailure((d) => exportModel(cfg, w, d), /missing weight "up1\/conv0\.w" \(the architecture needs shape \[3, 3, 8, 8\]\)/);
  });

  it('a missing codebook is named', async () => {
    const w = clone(weights);
    w.delete('codebook0');
    await expectCleanFailure((d) => exportModel(cfg, w, d), /missing weight "codebook0" \(the architecture needs shape \[2, 16, 4\]\)/);
  });

  it('a wrong shape is named', async () => {
    const w = clone(weights);
    // The first encoder conv in ONNX layout [out, in, k, k] instead of tfjs [k, k, in, out].
    const t = w.get('enc/conv1.w')!;
    w.set('enc/conv1.w', { shape: [t.shape[3], t.shape[2], t.shape[0], t.shape[1]], data: t.data });
    await expectCleanFailure((d) => exportModel(cfg, w, d), /weight "enc\/conv1\.w" has shape \[8, 3, 4, 4\] but the architecture needs \[4, 4, 3, 8\]/);
  });

  it('a data length that does not fit the shape is named', async () => {
    const w = clone(weights);
    w.set('dec/conv1.b', { shape: [8], data: new Float32Array(7) });
    await expectCleanFailure((d) => exportModel(cfg, w, d), /weight "dec\/conv1\.b" must hold a Float32Array of 8 values/);
  });

  it('a non-finite value is named', async () => {
    const w = clone(weights);
    w.get('codebook1')!.data[5] = Number.NaN;
    await expectCleanFailure((d) => exportModel(cfg, w, d), /weight "codebook1" holds a non-finite value \(NaN\) at flat index 5/);
  });

  it('an unknown op is named', async () => {
    const arch = buildArchitecture(cfg);
    const bogus = { kind: 'gelu', input: arch.decoder.ops[0].output, output: 'x' } as unknown as Op;
    arch.decoder = { ...arch.decoder, ops: [arch.decoder.ops[0], bogus, ...arch.decoder.ops.slice(1)] };
    await expectCleanFailure((d) => exportArchitecture(arch, weights, d), /graph decoder: unknown op kind "gelu"/);
  });

  it('an existing output directory is refused and left untouched', async () => {
    const outDir = join(work, 'existing');
    mkdirSync(outDir);
    writeFileSync(join(outDir, 'keep.txt'), 'mine');
    await expect(exportModel(cfg, weights, outDir)).rejects.toThrow(/output directory .*existing already exists/);
    expect(readdirSync(outDir)).toEqual(['keep.txt']);
    expect(readdirSync(work).filter((f) => f.includes('.export-'))).toEqual([]);
  });

  it('overwrite replaces an existing directory', async () => {
    const outDir = join(work, 'replace');
    mkdirSync(outDir);
    writeFileSync(join(outDir, 'stale.txt'), 'old');
    const r = await exportModel(cfg, weights, outDir, { overwrite: true });
    expect(readdirSync(outDir).sort()).toEqual(['decoder.onnx', 'encoder.onnx', 'manifest.json', 'quantizer.onnx']);
    expect(statSync(outDir).mode & 0o777).toBe(0o755);
    expect(JSON.parse(readFileSync(join(outDir, 'manifest.json'), 'utf8')).fingerprint).toBe(r.manifest.fingerprint);
    expect(readdirSync(work).filter((f) => f.includes('.export-'))).toEqual([]);
  });

  it('a failure with overwrite keeps the old directory', async () => {
    const outDir = join(work, 'keep-old');
    mkdirSync(outDir);
    writeFileSync(join(outDir, 'old.txt'), 'old');
    const w = clone(weights);
    w.delete('codebook1');
    await expect(exportModel(cfg, w, outDir, { overwrite: true })).rejects.toThrow(/missing weight "codebook1"/);
    expect(readdirSync(outDir)).toEqual(['old.txt']);
  });

  it('a missing parent directory is created, and removed again on failure', async () => {
    const parent = join(work, 'new-parent', 'deeper');
    const w = clone(weights);
    w.delete('codebook1');
    await expect(exportModel(cfg, w, join(parent, 'model'))).rejects.toThrow(ExportError);
    expect(existsSync(join(work, 'new-parent'))).toBe(false);
    await exportModel(cfg, weights, join(parent, 'model'));
    expect(existsSync(join(parent, 'model', 'manifest.json'))).toBe(true);
  });

  it('an invalid config is refused before anything is written', async () => {
    const bad = { ...cfg, levels: [{ stride: 3, M: 1, K: 16, D: 4 }] };
    await expect(exportModel(bad, weights, join(work, 'bad-config'))).rejects.toThrow(/levels\[0\]\.stride must be a power of two/);
    expect(existsSync(join(work, 'bad-config'))).toBe(false);
  });
});
