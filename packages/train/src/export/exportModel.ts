/**
 * Model export: trained weights → a model directory of three ONNX graphs and a manifest.
 *
 *   encoder.onnx    image      float32 [N, 3, H, W] in [0, 1]   → e{l} float32 [N, C, H/s_l, W/s_l]
 *   quantizer.onnx  e{l}       (every level)                    → indices{l} int32 [N, M_l, H/s_l, W/s_l]
 *   decoder.onnx    indices{l} (every level), levelMask float32 [L] → reconstruction float32 [N, 3, H, W]
 *
 * Levels are numbered bottom first (0 = finest), as in the config. The quantizer runs Algorithm 1
 * of the DQ paper top-down: z_l = preQuant_l(e_l [, c_l]); per slice m (channels [mD, (m+1)D) of
 * z_l) index = argmin_k ||z_m||² − 2 z_m·C_l[m,k] + ||C_l[m,k]||² (ArgMin select_last_index=0:
 * exact ties go to the lowest k); q_l = codes gathered back into the same channel layout;
 * c_{l−1} = condition_l(q_l [, c_l]). The decoder holds only the codebooks, the upsamplers and
 * the final decoder; u_l is multiplied by levelMask[l] so that dropping lower levels (mask 0)
 * gives the progressive preview. Indices must lie in [0, K_l) even for masked levels.
 *
 * Index dtype: int32. ArgMin's int64 result is cast once inside the quantizer. int32 is what
 * JavaScript handles natively (Int32Array; int64 surfaces as BigInt64Array) and what WebGPU
 * supports natively (WGSL has no 64-bit integers, so ORT's WebGPU EP treats int64 as a
 * second-class type), and every EP's Gather accepts int32 indices.
 *
 * The export is deterministic (same weights → byte-identical files; no timestamps) and atomic:
 * everything is built in memory, written into a temporary directory beside outDir and renamed
 * into place, so a failed export leaves nothing behind.
 */
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { buildArchitecture, codebookSpec, tensorNames, type Architecture } from '../model/architecture.js';
import { isRateModel, parseModelConfig, priorContexts, totalStride, type ModelConfig } from '../model/config.js';
import { CodePrior, bitsOf } from '../rate/codePrior.js';
import { priorLevelToJson, type PriorTables } from '@dqcodec/core';
import { ExportError, getWeight, OnnxGraphBuilder, type IoSpec, type Weights } from './onnxGraph.js';

export { ExportError, type Weights, type WeightTensor } from './onnxGraph.js';

export const MANIFEST_FORMAT_VERSION = 1;

/** Names of the tensors at the boundaries of the exported graphs. */
export const onnxNames = {
  image: tensorNames.image,
  e: tensorNames.e,
  indices: (l: number): string => `indices${l}`,
  levelMask: 'levelMask',
  reconstruction: tensorNames.reconstruction,
} as const;

export const GRAPH_FILES = { encoder: 'encoder.onnx', quantizer: 'quantizer.onnx', decoder: 'decoder.onnx' } as const;
export type GraphKey = keyof typeof GRAPH_FILES;

export interface ExportOptions {
  /** Replace outDir if it exists (the old directory is removed only after the new one is in place). */
  overwrite?: boolean;
  /** exportCheckpoint: the model's name instead of its config's. */
  name?: string;
}

export interface GraphIo {
  inputs: string[];
  outputs: string[];
}

export interface ExportManifest {
  formatVersion: 1;
  name: string;
  config: ModelConfig;
  levels: { M: number; K: number; D: number; stride: number }[];
  totalStride: number;
  imageRange: [0, 1];
  graphs: { encoder: string; quantizer: string; decoder: string };
  io: { encoder: GraphIo; quantizer: GraphIo; decoder: GraphIo };
  /** Element type of every indices{l} tensor. */
  indexType: 'int32';
  /** Lowercase hex SHA-256 over encoder.onnx, quantizer.onnx, decoder.onnx bytes, in that order. */
  fingerprint: string;
  /** File sizes in bytes. */
  sizes: { encoder: number; quantizer: number; decoder: number };
  /** Lowercase hex SHA-256 of each graph, so a damaged file of the right size is caught on its own. */
  hashes: { encoder: string; quantizer: string; decoder: string };
  /**
   * Rate models: the learned prior ('conditional' entropy method), levels top first, as `prior`
   * and, until `dqcodec fit-entropy` replaces it with 'context' tables, as `entropy`.
   */
  entropy?: PriorTables;
  prior?: PriorTables;
}

export interface ExportResult {
  outDir: string;
  manifest: ExportManifest;
  /** Wall time of the whole export in milliseconds. */
  ms: number;
}

/** The encoded graphs and manifest, before anything touches the disk. */
export interface ExportedGraphs {
  graphs: Record<GraphKey, Uint8Array>;
  manifest: ExportManifest;
}

function levelDims(l: number): [string, string] {
  return [`h${l}`, `w${l}`];
}

function codebook(weights: Weights, cfg: ModelConfig, l: number): Float32Array {
  const spec = codebookSpec(cfg, l);
  return getWeight(weights, spec.name, spec.shape);
}

/**
 * q_l (NCHW [N, M·D, h, w]) from indices (int32 NCHW [N, M, h, w]): one Gather on the codebook
 * flattened to [M·K, D] with per-slice offsets m·K. Avoids Shape ops (the reshape only merges
 * trailing dims of an NHWC view) so the decoder stays friendly to every EP.
 */
function gatherCodes(g: OnnxGraphBuilder, cfg: ModelConfig, l: number, indices: string, flatCodebook: string, output: string): void {
  const { M, K, D } = cfg.levels[l];
  let idx = g.op('Transpose', [indices], { perm: [0, 2, 3, 1] }); // [N, h, w, M]
  if (M > 1) {
    const offsets = g.constInt32(`codebook${l}.offsets`, [M], Array.from({ length: M }, (_, m) => m * K));
    idx = g.op('Add', [idx, offsets]);
  }
  const codes = g.op('Gather', [flatCodebook, idx], { axis: 0 }); // [N, h, w, M, D]
  const shape = g.constInt64(`q${l}.nhwc_shape`, [4], [0, 0, 0, M * D]);
  const nhwc = g.op('Reshape', [codes, shape]); // [N, h, w, M·D]
  g.node('Transpose', [nhwc], [output], { perm: [0, 3, 1, 2] });
}

/** A rate model's prior of level l: integer frequencies [M, C, K] and the assignment's τ. */
interface LevelPrior {
  C: number;
  freq: Uint16Array;
  tau: number;
}

function levelPriors(cfg: ModelConfig, weights: Weights): LevelPrior[] | null {
  if (!isRateModel(cfg)) return null;
  return cfg.levels.map((lv, l) => {
    const C = priorContexts(cfg, l);
    const prior = new CodePrior({ M: lv.M, K: lv.K, C });
    prior.setState(getWeight(weights, `prior${l}.counts`, [lv.M, C, lv.K]));
    const tau = getWeight(weights, `quant${l}.tau`, [1])[0];
    if (!(tau >= 0)) throw new ExportError(`weight "quant${l}.tau" must be ≥ 0 (got ${tau})`);
    return { C, freq: prior.frequencyTable(), tau };
  });
}

/** The prior as manifest.entropy (format "dqc-prior", levels top first). */
function priorTables(cfg: ModelConfig, priors: LevelPrior[]): PriorTables {
  const levelsTopFirst = cfg.levels.map((lv, l) => priorLevelToJson(lv.M, lv.K, priors[l].C, priors[l].freq)).reverse();
  return { format: 'dqc-prior', version: 1, levelsTopFirst };
}

/**
 * Entropy-constrained assignment: dist [N, M, K, h·w] + τ·ln2·bits(k | m, c). At the top level
 * (one context) the bias is a constant [1, M, K, 1]; below, c is the co-located index of the
 * level above (codebook m mod M_p, nearest-upsampled by the stride ratio), and the bias rows are
 * gathered from a [M·C, K] table at m·C + c.
 */
function assignmentBias(g: OnnxGraphBuilder, cfg: ModelConfig, l: number, prior: LevelPrior, z: string, dist: string): string {
  const { M, K } = cfg.levels[l];
  const bits = bitsOf(prior.freq);
  const bias = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) bias[i] = prior.tau * Math.LN2 * bits[i];
  if (prior.C === 1) {
    // [M, 1, K] → [1, M, K, 1]
    const t = new Float32Array(M * K);
    t.set(bias);
    return g.op('Add', [dist, g.constFloat(`prior${l}.bias`, [1, M, K, 1], t)]);
  }
  const up = cfg.levels[l + 1];
  const r = up.stride / cfg.levels[l].stride;
  let parent = onnxNames.indices(l + 1); // int32 [N, Mp, hp, wp]
  if (up.M !== M) parent = g.op('Gather', [parent, g.constInt64(`prior${l}.parent_codebooks`, [M], Array.from({ length: M }, (_, m) => m % up.M))], { axis: 1 });
  const u = g.op('Unsqueeze', [parent, g.constInt64(`prior${l}.unsq`, [2], [3, 5])]); // [N, M, hp, 1, wp, 1]
  const tiled = g.op('Tile', [u, g.constInt64(`prior${l}.repeats`, [6], [1, 1, 1, r, 1, r])]); // [N, M, hp, r, wp, r]
  const hw = g.op('Shape', [z], { start: 2 }); // [h, w]
  const ctx = g.op('Reshape', [tiled, g.op('Concat', [g.constInt64(`prior${l}.nm`, [2], [0, M]), hw], { axis: 0 })]); // [N, M, h, w]
  const rows = g.op('Add', [ctx, g.constInt32(`prior${l}.row_offsets`, [1, M, 1, 1], Array.from({ length: M }, (_, m) => m * prior.C))]);
  const b = g.op('Gather', [g.constFloat(`prior${l}.bias`, [M * prior.C, K], bias), rows], { axis: 0 }); // [N, M, h, w, K]
  const bt = g.op('Transpose', [b], { perm: [0, 1, 4, 2, 3] }); // [N, M, K, h, w]
  const flat = g.op('Reshape', [bt, g.constInt64(`prior${l}.mk_shape`, [4], [0, M, K, -1])]); // [N, M, K, h·w]
  return g.op('Add', [dist, flat]);
}

function flatCodebook(g: OnnxGraphBuilder, cfg: ModelConfig, l: number, data: Float32Array): string {
  const { M, K, D } = cfg.levels[l];
  return g.constFloat(codebookSpec(cfg, l).name, [M * K, D], data);
}

function buildEncoder(arch: Architecture, weights: Weights): { bytes: Uint8Array; io: GraphIo } {
  const cfg = arch.config;
  const g = new OnnxGraphBuilder(weights);
  g.addIrGraph(arch.encoder);
  const inputs: IoSpec[] = [{ name: onnxNames.image, type: 'float32', shape: ['N', 3, 'H', 'W'] }];
  const outputs: IoSpec[] = cfg.levels.map((_, l) => ({ name: onnxNames.e(l), type: 'float32', shape: ['N', cfg.channels, ...levelDims(l)] }));
  const bytes = g.encode({
    name: `${cfg.name}.encoder`,
    doc: 'dqcodec encoder: image float32 [N,3,H,W] in [0,1] (H, W multiples of the total stride) -> e{l} per level, bottom first',
    inputs,
    outputs,
    metadata: { 'dqcodec.graph': 'encoder', 'dqcodec.model': cfg.name },
  });
  return { bytes, io: { inputs: inputs.map((s) => s.name), outputs: outputs.map((s) => s.name) } };
}

function buildQuantizer(arch: Architecture, weights: Weights, priors: LevelPrior[] | null): { bytes: Uint8Array; io: GraphIo } {
  const cfg = arch.config;
  const L = cfg.levels.length;
  const g = new OnnxGraphBuilder(weights);
  for (let l = L - 1; l >= 0; l--) {
    const { M, K, D } = cfg.levels[l];
    const lv = arch.levels[l];
    const z = g.addIrGraph(lv.preQuant)[tensorNames.z(l)];
    const C = codebook(weights, cfg, l);
    // ||z||² − 2 z·Cᵀ + ||C||²: the dot products of all M slices with their K codes are one
    // grouped 1×1 convolution (group = M) whose bias is ||C||².
    const w = new Float32Array(M * K * D);
    const b = new Float32Array(M * K);
    for (let i = 0; i < M * K; i++) {
      let s = 0;
      for (let d = 0; d < D; d++) {
        const c = C[i * D + d];
        w[i * D + d] = -2 * c;
        s += c * c;
      }
      b[i] = s;
    }
    const wName = g.constFloat(`codebook${l}.dist_w`, [M * K, D, 1, 1], w);
    const bName = g.constFloat(`codebook${l}.dist_b`, [M * K], b);
    const dot = g.op('Conv', [z, wName, bName], { group: M, kernel_shape: [1, 1] }); // [N, M·K, h, w]
    const dots = g.op('Reshape', [dot, g.constInt64(`z${l}.mk_shape`, [4], [0, M, K, -1])]); // [N, M, K, h·w]
    const zs = g.op('Reshape', [z, g.constInt64(`z${l}.md_shape`, [4], [0, M, D, -1])]); // [N, M, D, h·w]
    const z2 = g.op('ReduceSumSquare', [zs], { axes: [2], keepdims: 1 }); // [N, M, 1, h·w]
    const nearest = g.op('Add', [z2, dots]);
    const dist = priors && priors[l].tau > 0 ? assignmentBias(g, cfg, l, priors[l], z, nearest) : nearest;
    const am = g.op('ArgMin', [dist], { axis: 2, keepdims: 0, select_last_index: 0 }); // int64 [N, M, h·w]
    const hw = g.op('Shape', [z], { start: 2 }); // [h, w]
    const shape = g.op('Concat', [g.constInt64(`indices${l}.nm`, [2], [0, M]), hw], { axis: 0 });
    const am4 = g.op('Reshape', [am, shape]); // [N, M, h, w]
    const indices = g.op('Cast', [am4], { to: 6 /* INT32 */ }, onnxNames.indices(l));
    if (lv.condition) {
      gatherCodes(g, cfg, l, indices, flatCodebook(g, cfg, l, C), tensorNames.q(l));
      g.addIrGraph(lv.condition);
    }
  }
  const inputs: IoSpec[] = cfg.levels.map((_, l) => ({ name: onnxNames.e(l), type: 'float32', shape: ['N', cfg.channels, ...levelDims(l)] }));
  const outputs: IoSpec[] = cfg.levels.map((lv, l) => ({ name: onnxNames.indices(l), type: 'int32', shape: ['N', lv.M, ...levelDims(l)] }));
  const bytes = g.encode({
    name: `${cfg.name}.quantizer`,
    doc: 'dqcodec quantizer (Algorithm 1, top-down): e{l} per level -> indices{l} int32 [N,M,h,w] (nearest code per slice, ties to the lowest index)',
    inputs,
    outputs,
    metadata: { 'dqcodec.graph': 'quantizer', 'dqcodec.model': cfg.name },
  });
  return { bytes, io: { inputs: inputs.map((s) => s.name), outputs: outputs.map((s) => s.name) } };
}

function buildDecoder(arch: Architecture, weights: Weights): { bytes: Uint8Array; io: GraphIo } {
  const cfg = arch.config;
  const L = cfg.levels.length;
  const g = new OnnxGraphBuilder(weights);
  for (let l = 0; l < L; l++) {
    const q = tensorNames.q(l);
    gatherCodes(g, cfg, l, onnxNames.indices(l), flatCodebook(g, cfg, l, codebook(weights, cfg, l)), q);
    const raw = `${tensorNames.u(l)}:unmasked`;
    g.addIrGraph(arch.levels[l].upsampler, { [tensorNames.u(l)]: raw });
    const m = g.op('Gather', [onnxNames.levelMask, g.constInt64(`levelMask.index${l}`, [], [l])], { axis: 0 }); // scalar
    g.node('Mul', [raw, m], [tensorNames.u(l)]);
  }
  g.addIrGraph(arch.decoder);
  const inputs: IoSpec[] = [
    ...cfg.levels.map((lv, l): IoSpec => ({ name: onnxNames.indices(l), type: 'int32', shape: ['N', lv.M, ...levelDims(l)] })),
    { name: onnxNames.levelMask, type: 'float32', shape: [L] },
  ];
  const outputs: IoSpec[] = [{ name: onnxNames.reconstruction, type: 'float32', shape: ['N', 3, 'H', 'W'] }];
  const bytes = g.encode({
    name: `${cfg.name}.decoder`,
    doc: 'dqcodec decoder: indices{l} int32 [N,M,h,w] per level + levelMask float32 [L] (0 zeroes a level: progressive preview) -> reconstruction float32 [N,3,H,W]',
    inputs,
    outputs,
    metadata: { 'dqcodec.graph': 'decoder', 'dqcodec.model': cfg.name },
  });
  return { bytes, io: { inputs: inputs.map((s) => s.name), outputs: outputs.map((s) => s.name) } };
}

function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

/** SHA-256 over the three graphs, in manifest order. */
export function graphsFingerprint(graphs: Record<GraphKey, Uint8Array>): string {
  const h = createHash('sha256');
  for (const k of ['encoder', 'quantizer', 'decoder'] as const) h.update(graphs[k]);
  return h.digest('hex');
}

/** The manifest fields that describe the three encoded graphs: files, I/O names, fingerprint, sizes, hashes. */
export function graphManifestFields(enc: { bytes: Uint8Array; io: GraphIo }, qua: { bytes: Uint8Array; io: GraphIo }, dec: { bytes: Uint8Array; io: GraphIo }) {
  const graphs = { encoder: enc.bytes, quantizer: qua.bytes, decoder: dec.bytes };
  return {
    graphs: { ...GRAPH_FILES },
    io: { encoder: enc.io, quantizer: qua.io, decoder: dec.io },
    indexType: 'int32' as const,
    fingerprint: graphsFingerprint(graphs),
    sizes: { encoder: enc.bytes.length, quantizer: qua.bytes.length, decoder: dec.bytes.length },
    hashes: { encoder: sha256(enc.bytes), quantizer: sha256(qua.bytes), decoder: sha256(dec.bytes) },
  };
}

/** Builds the three graphs and the manifest in memory (no file system access). */
export function buildExport(arch: Architecture, weights: Weights): ExportedGraphs {
  const cfg = arch.config;
  const enc = buildEncoder(arch, weights);
  const priors = levelPriors(cfg, weights);
  const qua = buildQuantizer(arch, weights, priors);
  const dec = buildDecoder(arch, weights);
  const graphs = { encoder: enc.bytes, quantizer: qua.bytes, decoder: dec.bytes };
  const manifest: ExportManifest = {
    formatVersion: MANIFEST_FORMAT_VERSION,
    name: cfg.name,
    config: cfg,
    levels: cfg.levels.map(({ M, K, D, stride }) => ({ M, K, D, stride })),
    totalStride: totalStride(cfg),
    imageRange: [0, 1],
    ...graphManifestFields(enc, qua, dec),
  };
  if (priors) manifest.entropy = manifest.prior = priorTables(cfg, priors);
  return { graphs, manifest };
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}

/**
 * Exports an architecture (normally buildArchitecture(cfg); exposed for tests and tools) with its
 * weights into outDir. See exportModel.
 */
export async function exportArchitecture(arch: Architecture, weights: Weights, outDir: string, opts: ExportOptions = {}): Promise<ExportResult> {
  const t0 = performance.now();
  const target = resolve(outDir);
  if (!opts.overwrite && (await exists(target))) {
    throw new ExportError(`output directory ${target} already exists (choose another one or pass overwrite)`);
  }
  // Everything that can fail on bad weights fails here, before the disk is touched.
  const { graphs, manifest } = buildExport(arch, weights);

  const parent = dirname(target);
  const createdParent = await mkdir(parent, { recursive: true });
  let tmp: string | null = null;
  let old: string | null = null;
  try {
    tmp = await mkdtemp(join(parent, `.${basename(target)}.export-`));
    await chmod(tmp, 0o755); // mkdtemp makes it 0700; a model directory is meant to be shared and served
    for (const k of ['encoder', 'quantizer', 'decoder'] as const) await writeFile(join(tmp, GRAPH_FILES[k]), graphs[k]);
    await writeFile(join(tmp, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    if (await exists(target)) {
      if (!opts.overwrite) throw new ExportError(`output directory ${target} already exists (choose another one or pass overwrite)`);
      old = `${tmp}.old`;
      await rename(target, old);
    }
    await rename(tmp, target);
    tmp = null;
  } catch (e) {
    if (tmp) await rm(tmp, { recursive: true, force: true });
    if (old) await rename(old, target).catch(() => undefined);
    if (createdParent) await rm(createdParent, { recursive: true, force: true }).catch(() => undefined);
    if (e instanceof ExportError) throw e;
    throw new ExportError(`cannot write model directory ${target}: ${(e as Error).message}`);
  }
  if (old) await rm(old, { recursive: true, force: true });
  return { outDir: target, manifest, ms: performance.now() - t0 };
}

/**
 * Writes encoder.onnx, quantizer.onnx, decoder.onnx and manifest.json into outDir (which must not
 * exist unless opts.overwrite). `weights` holds every parameter of allParams(buildArchitecture(cfg))
 * and codebook{l} [M, K, D] per level, in tfjs layouts; other entries (e.g. EMA state) are ignored.
 * Throws ExportError naming the tensor on a missing weight, a wrong shape or a non-finite value.
 */
export async function exportModel(cfg: ModelConfig, weights: Weights, outDir: string, opts: ExportOptions = {}): Promise<ExportResult> {
  return exportArchitecture(buildArchitecture(parseModelConfig(cfg)), weights, outDir, opts);
}
