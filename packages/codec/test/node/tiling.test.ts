import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildArchitecture, type Graph } from '../../../train/src/model/architecture.js';
import { parseModelConfig } from '../../../train/src/model/config.js';
import { architectureMargins, DqCodec, planTiles } from '../../src/index.js';
import { makeModel, photoPixels, png, tmp } from './helpers.js';

interface Support {
  s: number;
  lo: number;
  hi: number;
}

/** Receptive field propagation over the train package's IR, written independently of tiling.ts. */
function propagate(g: Graph, sup: Map<string, Support>): void {
  for (const op of g.ops) {
    if (op.kind === 'conv') {
      const x = sup.get(op.input)!;
      sup.set(op.output, { s: x.s * op.stride, lo: x.lo - x.s * op.pad, hi: x.hi + x.s * (op.k - 1 - op.pad) });
    } else if (op.kind === 'convT') {
      // Output o = i·stride − pad + k' (k' < k): enumerate one period of output phases.
      const x = sup.get(op.input)!;
      const so = x.s / op.stride;
      let lo = Infinity, hi = -Infinity;
      for (let o = 0; o < op.stride; o++) {
        const iMin = Math.ceil((o + op.pad - op.k + 1) / op.stride);
        const iMax = Math.floor((o + op.pad) / op.stride);
        lo = Math.min(lo, x.s * iMin + x.lo - so * o);
        hi = Math.max(hi, x.s * iMax + x.hi - so * o);
      }
      sup.set(op.output, { s: so, lo, hi });
    } else if (op.kind === 'add' || op.kind === 'concat') {
      const xs = op.inputs.map((n) => sup.get(n)!);
      sup.set(op.output, { s: xs[0].s, lo: Math.min(...xs.map((x) => x.lo)), hi: Math.max(...xs.map((x) => x.hi)) });
    } else {
      sup.set(op.output, sup.get(op.input)!);
    }
  }
}

const need = (x: Support): number => Math.max(-x.lo, x.hi - (x.s - 1));

function irMargins(raw: unknown): { encoder: number; decoder: number } {
  const arch = buildArchitecture(parseModelConfig(raw));
  const L = arch.levels.length;
  const enc = new Map<string, Support>([['image', { s: 1, lo: 0, hi: 0 }]]);
  propagate(arch.encoder, enc);
  let encoder = 0;
  for (let l = L - 1; l >= 0; l--) {
    propagate(arch.levels[l].preQuant, enc);
    const z = enc.get(`z${l}`)!;
    encoder = Math.max(encoder, need(z));
    enc.set(`q${l}`, z); // indices (and the codes gathered from them) depend on what z does
    if (arch.levels[l].condition) propagate(arch.levels[l].condition!, enc);
  }
  const dec = new Map<string, Support>();
  for (let l = 0; l < L; l++) {
    const s = arch.config.levels[l].stride;
    dec.set(`q${l}`, { s, lo: 0, hi: s - 1 });
    propagate(arch.levels[l].upsampler, dec);
  }
  propagate(arch.decoder, dec);
  return { encoder, decoder: need(dec.get('reconstruction')!) };
}

describe('receptive-field margins', () => {
  it('match an independent propagation over the training IR', () => {
    const configs = [
      { levels: [{ stride: 4, M: 4, K: 64, D: 8 }, { stride: 8, M: 4, K: 64, D: 8 }], channels: 16, resBlocks: 1, resHidden: 8 },
      { levels: [{ stride: 8, M: 8, K: 256, D: 8 }, { stride: 16, M: 8, K: 256, D: 8 }], channels: 64, resBlocks: 2, resHidden: 32 },
      { levels: [{ stride: 2, M: 2, K: 8, D: 4 }], channels: 8, resBlocks: 0, resHidden: 4 },
      { levels: [{ stride: 2, M: 2, K: 8, D: 4 }, { stride: 8, M: 2, K: 8, D: 4 }, { stride: 32, M: 1, K: 16, D: 4 }], channels: 8, resBlocks: 3, resHidden: 4 },
    ];
    for (const c of configs) {
      expect(architectureMargins({ strides: c.levels.map((l) => l.stride), resBlocks: c.resBlocks })).toEqual(irMargins(c));
    }
    expect(irMargins(configs[1])).toEqual({ encoder: 135, decoder: 70 }); // the default config
  });

  it('planTiles covers the padded image once with aligned cores no larger than the tile', () => {
    for (const [w, h, tile, margin] of [[64, 48, 1024, 16], [200, 136, 64, 24], [1000, 8, 96, 40]]) {
      const cover = new Uint8Array(w * h);
      for (const { core, region } of planTiles(w, h, tile, margin, 8)) {
        for (const v of [core.x0, core.x1, core.y0, core.y1]) expect(v % 8).toBe(0);
        expect(core.x1 - core.x0).toBeLessThanOrEqual(tile);
        expect(region).toEqual({ x0: Math.max(0, core.x0 - margin), y0: Math.max(0, core.y0 - margin), x1: Math.min(w, core.x1 + margin), y1: Math.min(h, core.y1 + margin) });
        for (let y = core.y0; y < core.y1; y++) for (let x = core.x0; x < core.x1; x++) cover[y * w + x]++;
      }
      expect(cover.every((c) => c === 1)).toBe(true);
    }
    expect(planTiles(64, 48, 1024, 16, 8)).toHaveLength(1);
  });
});

describe('tiled inference', () => {
  let model: string;
  let input: Buffer;
  let whole: DqCodec;
  beforeAll(async () => {
    model = await makeModel(5);
    input = await png(photoPixels(150, 110, 3, 9), 150, 110, 3);
    whole = await DqCodec.load(model, { tileSize: 0 });
  });
  afterAll(async () => whole?.close());

  it('gives exactly the untiled index maps, file and reconstruction', async () => {
    const ref = await whole.encode(input);
    const refTokens = await whole.tokens(input);
    const refPixels = (await whole.decode(ref)).pixels;
    for (const tileSize of [32, 64]) {
      const tiled = await DqCodec.load(model, { tileSize });
      const t = await tiled.tokens(input);
      expect(t.levels.map((l) => l.indices)).toEqual(refTokens.levels.map((l) => l.indices));
      expect(Buffer.compare(await tiled.encode(input), ref)).toBe(0);
      expect(Buffer.compare((await tiled.decode(ref)).pixels, refPixels)).toBe(0);
      await tiled.close();
    }
  });

  it('the comparison is sensitive: margins below the receptive field change the output', async () => {
    const dir = join(tmp(), 'm');
    cpSync(model, dir, { recursive: true });
    const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    m.tileMargins = { encoder: 8, decoder: 8 };
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m));
    const narrow = await DqCodec.load(dir, { tileSize: 32 });
    expect(narrow.margins).toEqual({ encoder: 8, decoder: 8 });
    const ref = await whole.tokens(input);
    const t = await narrow.tokens(input);
    const diffs = t.levels.reduce((n, l, i) => n + l.indices.filter((v, j) => v !== ref.levels[i].indices[j]).length, 0);
    expect(diffs).toBeGreaterThan(0);
    const bytes = await whole.encode(input);
    expect(Buffer.compare((await narrow.decode(bytes)).pixels, (await whole.decode(bytes)).pixels)).not.toBe(0);
    await narrow.close();
  });
});
