/**
 * Export of a transform model: one model directory per operating point (the step table of that
 * point folded into the graphs), with the same graph interface as every dqcodec model
 * (export/exportModel.ts), plus family.json listing the points.
 *
 *   encoder.onnx    image [N,3,H,W] → e0 = DCT/steps [N,192,H/8,W/8], e1 = block means/topSteps [N,3,H/16,W/16]
 *   quantizer.onnx  e0, e1 → indices1 = round(e1) + K/2; indices0 = deadzone-round(e0 − pred(indices1)) + K/2
 *   decoder.onnx    indices0, indices1, levelMask → coefficients → refiner → inverse DCT → RGB
 *
 * The DC prediction pred (8 × the decoded top-level mean, on each colour's DC channel) is the
 * same ConvTranspose on both sides, so the bottom level codes only what the top did not say.
 */
import { chmod, mkdir, rename, rm, writeFile, mkdtemp } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { coefficientTablesFor, type CoefficientTables } from '@dqcodec/core';
import { OnnxGraphBuilder, type IoSpec, type Weights } from '../export/onnxGraph.js';
import { GRAPH_FILES, graphManifestFields, MANIFEST_FORMAT_VERSION, type GraphIo, type GraphKey } from '../export/exportModel.js';
import { blockDctMatrix, RGB_TO_YCC, YCC_OFFSET, YCC_TO_RGB } from './basis.js';
import { BLOCK, COEFFS, coefficientSteps, deadzoneVectors, STRIDES, topSteps, type TransformConfig } from './config.js';
import { buildRefiner, REFINER_INPUT_SCALE, REFINER_OUTPUT_SCALE, refinerNames } from './model.js';

const NC = 3 * COEFFS;
const dims = (l: number): [string, string] => [`h${l}`, `w${l}`];

/** Encoder conv weights [192, 3, 8, 8] and bias: image in [0, 1] → coefficients / steps. */
function analysisWeights(steps: Float32Array): { w: Float32Array; b: Float32Array } {
  const F = blockDctMatrix();
  const w = new Float32Array(NC * 3 * BLOCK * BLOCK);
  const b = new Float32Array(NC);
  for (let o = 0; o < NC; o++) {
    for (let y = 0; y < BLOCK; y++) {
      for (let x = 0; x < BLOCK; x++) {
        for (let c = 0; c < 3; c++) {
          const f = F[((y * BLOCK + x) * 3 + c) * NC + o] / steps[o];
          b[o] += f * YCC_OFFSET[c];
          for (let ic = 0; ic < 3; ic++) w[((o * 3 + ic) * BLOCK + y) * BLOCK + x] += 255 * f * RGB_TO_YCC[c][ic];
        }
      }
    }
  }
  return { w, b };
}

/** Decoder ConvTranspose weights [192, 3, 8, 8] and bias: coefficients → RGB in [0, 1]. */
function synthesisWeights(): { w: Float32Array; b: Float32Array } {
  const F = blockDctMatrix();
  const w = new Float32Array(NC * 3 * BLOCK * BLOCK);
  for (let o = 0; o < NC; o++) {
    for (let y = 0; y < BLOCK; y++) {
      for (let x = 0; x < BLOCK; x++) {
        for (let c = 0; c < 3; c++) {
          const f = F[((y * BLOCK + x) * 3 + c) * NC + o];
          for (let ic = 0; ic < 3; ic++) w[((o * 3 + ic) * BLOCK + y) * BLOCK + x] += (f * YCC_TO_RGB[ic][c]) / 255;
        }
      }
    }
  }
  const b = Float32Array.from([0, 1, 2], (ic) => -YCC_TO_RGB[ic].reduce((s, v, c) => s + v * YCC_OFFSET[c], 0) / 255);
  return { w, b };
}

/** ConvTranspose [3, 192, 2, 2] putting `gain[c]` × top value c on colour c's DC channel of each of the 4 sub-blocks. */
function dcPlacement(gain: Float32Array): Float32Array {
  const w = new Float32Array(3 * NC * 4);
  for (let c = 0; c < 3; c++) w.fill(gain[c], (c * NC + c * COEFFS) * 4, (c * NC + c * COEFFS) * 4 + 4);
  return w;
}

function gridValues(g: OnnxGraphBuilder, input: string, K: number, name: string): string {
  const lo = g.constFloat(`${name}.lo`, [], [-K / 2]);
  const hi = g.constFloat(`${name}.hi`, [], [K / 2 - 1]);
  return g.op('Clip', [g.op('Round', [input]), lo, hi]);
}

function toIndices(g: OnnxGraphBuilder, v: string, K: number, out: string): void {
  g.node('Cast', [g.op('Add', [v, g.constFloat(`${out}.offset`, [], [K / 2])])], [out], { to: 6 /* INT32 */ });
}

function fromIndices(g: OnnxGraphBuilder, idx: string, K: number, l: number): string {
  const v = g.op('Sub', [g.op('Cast', [idx], { to: 1 /* FLOAT */ }), g.constFloat(`values${l}.offset`, [], [K / 2])]);
  const m = g.op('Gather', ['levelMask', g.constInt64(`levelMask.index${l}`, [], [l])], { axis: 0 });
  return g.op('Mul', [v, m]);
}

interface Built {
  bytes: Uint8Array;
  io: GraphIo;
}

function encode(g: OnnxGraphBuilder, cfg: TransformConfig, graph: GraphKey, inputs: IoSpec[], outputs: IoSpec[], doc: string): Built {
  const bytes = g.encode({ name: `${cfg.name}.${graph}`, doc, inputs, outputs, metadata: { 'dqcodec.graph': graph, 'dqcodec.model': cfg.name } });
  return { bytes, io: { inputs: inputs.map((s) => s.name), outputs: outputs.map((s) => s.name) } };
}

function buildEncoder(cfg: TransformConfig, scale: number): Built {
  const g = new OnnxGraphBuilder(new Map());
  const a = analysisWeights(coefficientSteps(cfg, scale));
  g.node('Conv', ['image', g.constFloat('analysis.w', [NC, 3, BLOCK, BLOCK], a.w), g.constFloat('analysis.b', [NC], a.b)], ['e0'], { kernel_shape: [BLOCK, BLOCK], strides: [BLOCK, BLOCK], pads: [0, 0, 0, 0] });
  const t = topSteps(cfg, scale);
  const S = 2 * BLOCK;
  const w1 = new Float32Array(3 * 3 * S * S);
  for (let c = 0; c < 3; c++) for (let ic = 0; ic < 3; ic++) w1.fill((255 * RGB_TO_YCC[c][ic]) / (S * S) / t[c], (c * 3 + ic) * S * S, (c * 3 + ic + 1) * S * S);
  const b1 = Float32Array.from([0, 1, 2], (c) => YCC_OFFSET[c] / t[c]);
  g.node('Conv', ['image', g.constFloat('means.w', [3, 3, S, S], w1), g.constFloat('means.b', [3], b1)], ['e1'], { kernel_shape: [S, S], strides: [S, S], pads: [0, 0, 0, 0] });
  return encode(g, cfg, 'encoder', [{ name: 'image', type: 'float32', shape: ['N', 3, 'H', 'W'] }], [
    { name: 'e0', type: 'float32', shape: ['N', NC, ...dims(0)] },
    { name: 'e1', type: 'float32', shape: ['N', 3, ...dims(1)] },
  ], 'dqcodec transform encoder: image float32 [N,3,H,W] in [0,1] (H, W multiples of 16) -> e0 (8x8 DCT of YCbCr / steps), e1 (16x16 means / top steps)');
}

/** Top values → the DC prediction on level 0, in level-0 step units (quantizer) or absolute units (decoder). */
function dcPrediction(g: OnnxGraphBuilder, cfg: TransformConfig, scale: number, v1: string, absolute: boolean): string {
  const steps = coefficientSteps(cfg, scale);
  const t = topSteps(cfg, scale);
  const gain = Float32Array.from([0, 1, 2], (c) => (BLOCK * t[c]) / (absolute ? 1 : steps[c * COEFFS]));
  return g.op('ConvTranspose', [v1, g.constFloat(absolute ? 'dcpred_abs.w' : 'dcpred.w', [3, NC, 2, 2], dcPlacement(gain))], { kernel_shape: [2, 2], strides: [2, 2], pads: [0, 0, 0, 0] });
}

function buildQuantizer(cfg: TransformConfig, scale: number): Built {
  const g = new OnnxGraphBuilder(new Map());
  const v1 = gridValues(g, 'e1', cfg.K, 'grid1');
  toIndices(g, v1, cfg.K, 'indices1');
  // Deadzone rounding, sign(t)·⌊|t| + r⌋ with r = 0.5 on the DC channels (plain rounding, up to ties).
  const t = g.op('Sub', ['e0', dcPrediction(g, cfg, scale, v1, false)]);
  const r = g.constFloat('grid0.round', [1, NC, 1, 1], deadzoneVectors(cfg).round);
  const mag = g.op('Floor', [g.op('Add', [g.op('Abs', [t]), r])]);
  const v0 = g.op('Clip', [g.op('Mul', [g.op('Sign', [t]), mag]), g.constFloat('grid0.lo', [], [-cfg.K / 2]), g.constFloat('grid0.hi', [], [cfg.K / 2 - 1])]);
  toIndices(g, v0, cfg.K, 'indices0');
  return encode(g, cfg, 'quantizer', [
    { name: 'e0', type: 'float32', shape: ['N', NC, ...dims(0)] },
    { name: 'e1', type: 'float32', shape: ['N', 3, ...dims(1)] },
  ], [
    { name: 'indices0', type: 'int32', shape: ['N', NC, ...dims(0)] },
    { name: 'indices1', type: 'int32', shape: ['N', 3, ...dims(1)] },
  ], 'dqcodec transform quantizer: top level first (rounded means), then level 0 = rounded DCT residual after the top level\'s DC prediction; indices = value + K/2');
}

function buildDecoder(cfg: TransformConfig, scale: number, weights: Weights): Built {
  const g = new OnnxGraphBuilder(weights);
  const v1 = fromIndices(g, 'indices1', cfg.K, 1);
  const v0 = fromIndices(g, 'indices0', cfg.K, 0);
  const steps = g.constFloat('steps', [1, NC, 1, 1], coefficientSteps(cfg, scale));
  // Nonzero AC values move `shrink` steps towards zero; Clip(v, −1, 1) is sign(v) for integers (Sign avoided: not every web EP has it).
  const one = g.constFloat('deq.one', [], [1]);
  const sign = g.op('Clip', [v0, g.constFloat('deq.minus_one', [], [-1]), one]);
  const deq = g.op('Sub', [v0, g.op('Mul', [sign, g.constFloat('deq.shrink', [1, NC, 1, 1], deadzoneVectors(cfg).shrink)])]);
  const coef = g.op('Add', [g.op('Mul', [deq, steps]), dcPrediction(g, cfg, scale, v1, true)]);
  // The refiner's input: coefficients / 64 and a constant channel log2(scale) (built from a slice, so no shape ops).
  const first = g.op('Slice', [coef, g.constInt64('qchan.starts', [1], [0]), g.constInt64('qchan.ends', [1], [1]), g.constInt64('qchan.axes', [1], [1])]);
  const qchan = g.op('Add', [g.op('Mul', [first, g.constFloat('qchan.zero', [], [0])]), g.constFloat('qchan.value', [], [Math.log2(scale)])]);
  const scaled = g.op('Mul', [coef, g.constFloat('refiner.in_scale', [], [1 / REFINER_INPUT_SCALE])]);
  g.node('Concat', [scaled, qchan], [refinerNames.input], { axis: 1 });
  const out = g.addIrGraph(buildRefiner(cfg))[refinerNames.output];
  const refined = g.op('Add', [coef, g.op('Mul', [out, g.constFloat('refiner.out_scale', [], [REFINER_OUTPUT_SCALE])])]);
  const s = synthesisWeights();
  g.node('ConvTranspose', [refined, g.constFloat('synthesis.w', [NC, 3, BLOCK, BLOCK], s.w), g.constFloat('synthesis.b', [3], s.b)], ['reconstruction'], {
    kernel_shape: [BLOCK, BLOCK],
    strides: [BLOCK, BLOCK],
    pads: [0, 0, 0, 0],
  });
  return encode(g, cfg, 'decoder', [
    { name: 'indices0', type: 'int32', shape: ['N', NC, ...dims(0)] },
    { name: 'indices1', type: 'int32', shape: ['N', 3, ...dims(1)] },
    { name: 'levelMask', type: 'float32', shape: [2] },
  ], [{ name: 'reconstruction', type: 'float32', shape: ['N', 3, 'H', 'W'] }], 'dqcodec transform decoder: indices + levelMask (0 drops level 0: the top-level preview) -> coefficients -> learned refiner -> inverse DCT -> RGB [N,3,H,W]');
}


/** Entropy tables of a transform model: method 4 'coefficient', levels top first. */
export function coefficientTables(cfg: TransformConfig): CoefficientTables {
  return coefficientTablesFor([{ M: 3, K: cfg.K, predict: 'med' }, { M: NC, K: cfg.K, predict: 'none' }]);
}

/** Decoder receptive field beyond a block, in pixels, rounded up to the total stride. */
function decoderMargin(cfg: TransformConfig): number {
  const convs3 = 2 + cfg.refiner.resBlocks;
  return Math.ceil((convs3 * BLOCK) / 16) * 16;
}

/** The graphs and manifest of operating point `quality` (1-based). */
export function buildTransformExport(cfg: TransformConfig, weights: Weights, quality: number): { graphs: Record<GraphKey, Uint8Array>; manifest: Record<string, unknown> } {
  const scale = cfg.qualities[quality - 1];
  if (scale === undefined) throw new Error(`quality ${quality} is not one of 1..${cfg.qualities.length}`);
  const enc = buildEncoder(cfg, scale);
  const qua = buildQuantizer(cfg, scale);
  const dec = buildDecoder(cfg, scale, weights);
  const graphs = { encoder: enc.bytes, quantizer: qua.bytes, decoder: dec.bytes };
  const manifest = {
    formatVersion: MANIFEST_FORMAT_VERSION,
    name: `${cfg.name}-q${quality}`,
    config: { ...cfg, quality, scale },
    levels: [
      { M: NC, K: cfg.K, D: 1, stride: STRIDES[0] },
      { M: 3, K: cfg.K, D: 1, stride: STRIDES[1] },
    ],
    totalStride: STRIDES[1],
    imageRange: [0, 1],
    ...graphManifestFields(enc, qua, dec),
    tileMargins: { encoder: 0, decoder: decoderMargin(cfg) },
    entropy: coefficientTables(cfg),
  };
  return { graphs, manifest };
}

/**
 * Writes <outDir>/<name>-q<n>/ for every operating point and <outDir>/family.json, atomically
 * (built in a temporary directory beside outDir, then renamed into place).
 */
export async function exportTransformFamily(cfg: TransformConfig, weights: Weights, outDir: string, opts: { defaultQuality?: number } = {}): Promise<{ outDir: string; dirs: string[] }> {
  const target = resolve(outDir);
  await mkdir(dirname(target), { recursive: true });
  const tmp = await mkdtemp(join(dirname(target), `.${basename(target)}.export-`));
  await chmod(tmp, 0o755); // mkdtemp makes it 0700; a model directory is meant to be shared and served
  const dirs: string[] = [];
  const points: { quality: number; scale: number; dir: string; fingerprint: string }[] = [];
  try {
    for (let q = 1; q <= cfg.qualities.length; q++) {
      const { graphs, manifest } = buildTransformExport(cfg, weights, q);
      const dir = `${cfg.name}-q${q}`;
      await mkdir(join(tmp, dir));
      for (const k of ['encoder', 'quantizer', 'decoder'] as const) await writeFile(join(tmp, dir, GRAPH_FILES[k]), graphs[k]);
      await writeFile(join(tmp, dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
      dirs.push(join(target, dir));
      points.push({ quality: q, scale: cfg.qualities[q - 1], dir, fingerprint: manifest.fingerprint as string });
    }
    const n = cfg.qualities.length;
    const defaultQuality = opts.defaultQuality ?? Math.ceil(n / 2);
    const aliases = { low: Math.min(2, n), medium: defaultQuality, high: Math.max(1, n - 1) };
    const family = { format: 'dqc-family', version: 1, name: cfg.name, defaultQuality, aliases, qualities: points };
    await writeFile(join(tmp, 'family.json'), `${JSON.stringify(family, null, 2)}\n`);
    await rm(target, { recursive: true, force: true });
    await rename(tmp, target);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  return { outDir: target, dirs };
}
