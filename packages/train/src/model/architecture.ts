/**
 * The DQ-AE as data: a small graph IR of convolutions, transposed convolutions, ReLUs, adds,
 * channel concatenations and affine scalings. The tfjs trainer (tfjs/executor.ts) and the ONNX
 * exporter (export/) both consume this one description, so the two can never disagree about
 * the architecture; the quantizer itself (nearest code per slice) sits between the graphs and
 * is implemented by each side (Algorithm 1 of the DQ paper).
 *
 * Tensor layout: NHWC in the IR (tfjs' native layout); weights in tfjs layout
 *   conv  `${op}.w` [k, k, in, out],  convT `${op}.w` [k, k, out, in],  bias `${op}.b` [out].
 * Down-sampling is conv k=4 s=2 pad=1 and up-sampling convT k=4 s=2 pad=1: both have symmetric
 * padding, which sidesteps TF-vs-ONNX SAME padding asymmetries; 3×3 convs use pad 1.
 */
import type { ModelConfig } from './config.js';

export type Op =
  | { kind: 'conv'; name: string; input: string; output: string; inCh: number; outCh: number; k: number; stride: number; pad: number }
  | { kind: 'convT'; name: string; input: string; output: string; inCh: number; outCh: number; k: number; stride: number; pad: number }
  | { kind: 'relu'; input: string; output: string }
  | { kind: 'add'; inputs: [string, string]; output: string }
  | { kind: 'concat'; inputs: string[]; output: string }
  | { kind: 'affine'; input: string; output: string; scale: number; shift: number };

export interface TensorSpec {
  name: string;
  channels: number;
  /** Stride relative to the image (1 = image resolution). */
  stride: number;
}

export interface Graph {
  name: string;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  ops: Op[];
}

export interface ParamSpec {
  name: string;
  shape: number[];
  /** Fan-in used for initialisation. */
  fanIn: number;
  kind: 'weight' | 'bias';
}

/** Level l (bottom first) of the hierarchy: graphs and codebook shape. */
export interface LevelGraphs {
  /** e_l [, c_l] → z_l (M·D channels): the pre-quantization projection. */
  preQuant: Graph;
  /** q_l [, c_l] → c_{l-1}: D_l(q_l) + c_l, resampled to the next lower level (absent at level 0). */
  condition: Graph | null;
  /** q_l → u_l at level-0 resolution, for the final decoder. */
  upsampler: Graph;
}

export interface Architecture {
  config: ModelConfig;
  encoder: Graph;
  levels: LevelGraphs[];
  decoder: Graph;
}

/** Small builder that keeps op/tensor names unique and tracks channels. */
export class GraphBuilder {
  private ops: Op[] = [];
  private count = 0;
  constructor(private readonly prefix: string) {}

  private fresh(tag: string): string {
    return `${this.prefix}/${tag}${this.count++}`;
  }

  conv(input: string, inCh: number, outCh: number, k: number, stride = 1): string {
    const name = this.fresh('conv');
    const pad = k === 4 && stride === 2 ? 1 : (k - 1) / 2;
    this.ops.push({ kind: 'conv', name, input, output: name, inCh, outCh, k, stride, pad });
    return name;
  }

  convT(input: string, inCh: number, outCh: number): string {
    const name = this.fresh('convT');
    this.ops.push({ kind: 'convT', name, input, output: name, inCh, outCh, k: 4, stride: 2, pad: 1 });
    return name;
  }

  relu(input: string): string {
    const output = this.fresh('relu');
    this.ops.push({ kind: 'relu', input, output });
    return output;
  }

  add(a: string, b: string): string {
    const output = this.fresh('add');
    this.ops.push({ kind: 'add', inputs: [a, b], output });
    return output;
  }

  concat(inputs: string[]): string {
    const output = this.fresh('concat');
    this.ops.push({ kind: 'concat', inputs, output });
    return output;
  }

  affine(input: string, scale: number, shift: number): string {
    const output = this.fresh('affine');
    this.ops.push({ kind: 'affine', input, output, scale, shift });
    return output;
  }

  /** VQ-VAE residual stack: n × (x + conv1(relu(conv3(relu(x))))), then ReLU. */
  resStack(x: string, ch: number, hidden: number, n: number): string {
    for (let i = 0; i < n; i++) {
      const h = this.conv(this.relu(x), ch, hidden, 3);
      x = this.add(x, this.conv(this.relu(h), hidden, ch, 1));
    }
    return this.relu(x);
  }

  /** Renames the final value of a tensor so that graph outputs have stable names. */
  finish(name: string, inputs: TensorSpec[], outputs: { spec: TensorSpec; value: string }[]): Graph {
    const ops = this.ops.map((op) => {
      const rename = outputs.find((o) => o.value === op.output);
      return rename ? { ...op, output: rename.spec.name } : op;
    });
    // Later ops that read a renamed value must read it under its new name.
    const alias = new Map(outputs.map((o) => [o.value, o.spec.name]));
    const fixed = ops.map((op) => renameInputs(op, alias));
    for (const o of outputs) {
      if (!fixed.some((op) => op.output === o.spec.name) && !inputs.some((i) => i.name === o.spec.name)) {
        throw new Error(`graph ${name}: output ${o.spec.name} is never produced`);
      }
    }
    return { name, inputs, outputs: outputs.map((o) => o.spec), ops: fixed };
  }
}

function renameInputs(op: Op, alias: Map<string, string>): Op {
  const r = (s: string): string => alias.get(s) ?? s;
  switch (op.kind) {
    case 'add':
      return { ...op, inputs: [r(op.inputs[0]), r(op.inputs[1])] };
    case 'concat':
      return { ...op, inputs: op.inputs.map(r) };
    default:
      return { ...op, input: r(op.input) };
  }
}

function log2Int(n: number): number {
  return Math.round(Math.log2(n));
}

/** Names of the tensors that cross graph boundaries. */
export const tensorNames = {
  image: 'image',
  reconstruction: 'reconstruction',
  e: (l: number) => `e${l}`,
  z: (l: number) => `z${l}`,
  q: (l: number) => `q${l}`,
  c: (l: number) => `c${l}`,
  u: (l: number) => `u${l}`,
};

function buildEncoder(cfg: ModelConfig): Graph {
  const C = cfg.channels;
  const g = new GraphBuilder('enc');
  // Images enter in [0, 1]; the network works on [-0.5, 0.5].
  let x = g.affine(tensorNames.image, 1, -0.5);
  let ch = 3;
  let prevStride = 1;
  const outputs: { spec: TensorSpec; value: string }[] = [];
  cfg.levels.forEach((lv, l) => {
    const downs = log2Int(lv.stride / prevStride);
    for (let i = 0; i < downs; i++) {
      // The first image-resolution stage is narrower: it is the most expensive per channel.
      const out = l === 0 && i < downs - 1 ? Math.max(C >> 1, 8) : C;
      x = g.relu(g.conv(x, ch, out, 4, 2));
      ch = out;
    }
    x = g.conv(x, ch, C, 3);
    ch = C;
    x = g.resStack(x, C, cfg.resHidden, cfg.resBlocks);
    outputs.push({ spec: { name: tensorNames.e(l), channels: C, stride: lv.stride }, value: x });
    prevStride = lv.stride;
  });
  return g.finish('encoder', [{ name: tensorNames.image, channels: 3, stride: 1 }], outputs);
}

function buildLevel(cfg: ModelConfig, l: number): LevelGraphs {
  const C = cfg.channels;
  const lv = cfg.levels[l];
  const top = l === cfg.levels.length - 1;
  const qCh = lv.M * lv.D;
  const stride = lv.stride;
  const eSpec: TensorSpec = { name: tensorNames.e(l), channels: C, stride };
  const cSpec: TensorSpec = { name: tensorNames.c(l), channels: C, stride };
  const qSpec: TensorSpec = { name: tensorNames.q(l), channels: qCh, stride };

  const pre = new GraphBuilder(`pre${l}`);
  const preIn = top ? tensorNames.e(l) : pre.concat([tensorNames.e(l), tensorNames.c(l)]);
  const z = pre.conv(preIn, top ? C : 2 * C, qCh, 1);
  const preQuant = pre.finish(`preQuant${l}`, top ? [eSpec] : [eSpec, cSpec], [
    { spec: { name: tensorNames.z(l), channels: qCh, stride }, value: z },
  ]);

  let condition: Graph | null = null;
  if (l > 0) {
    const cg = new GraphBuilder(`cond${l}`);
    let h = cg.relu(cg.conv(tensorNames.q(l), qCh, C, 3));
    h = cg.resStack(h, C, cfg.resHidden, Math.min(cfg.resBlocks, 1));
    if (!top) h = cg.add(h, tensorNames.c(l));
    const ups = log2Int(stride / cfg.levels[l - 1].stride);
    for (let i = 0; i < ups; i++) {
      h = cg.convT(h, C, C);
      if (i < ups - 1) h = cg.relu(h);
    }
    condition = cg.finish(`condition${l}`, top ? [qSpec] : [qSpec, cSpec], [
      { spec: { name: tensorNames.c(l - 1), channels: C, stride: cfg.levels[l - 1].stride }, value: h },
    ]);
  }

  const ug = new GraphBuilder(`up${l}`);
  let u = ug.relu(ug.conv(tensorNames.q(l), qCh, C, 3));
  const ups = log2Int(stride / cfg.levels[0].stride);
  for (let i = 0; i < ups; i++) u = ug.relu(ug.convT(u, C, C));
  const upsampler = ug.finish(`upsampler${l}`, [qSpec], [
    { spec: { name: tensorNames.u(l), channels: C, stride: cfg.levels[0].stride }, value: u },
  ]);
  return { preQuant, condition, upsampler };
}

function buildDecoder(cfg: ModelConfig): Graph {
  const C = cfg.channels;
  const L = cfg.levels.length;
  const g = new GraphBuilder('dec');
  const inputs = cfg.levels.map((_, l): TensorSpec => ({ name: tensorNames.u(l), channels: C, stride: cfg.levels[0].stride }));
  let x = L > 1 ? g.concat(inputs.map((i) => i.name)) : inputs[0].name;
  x = g.conv(x, L * C, C, 3);
  x = g.resStack(x, C, cfg.resHidden, cfg.resBlocks);
  const ups = log2Int(cfg.levels[0].stride);
  let ch = C;
  for (let i = 0; i < ups; i++) {
    const last = i === ups - 1;
    const out = last ? 3 : Math.max(C >> 1, 8);
    x = g.convT(x, ch, out);
    if (!last) x = g.relu(x);
    ch = out;
  }
  const y = g.affine(x, 1, 0.5);
  return g.finish('decoder', inputs, [{ spec: { name: tensorNames.reconstruction, channels: 3, stride: 1 }, value: y }]);
}

export function buildArchitecture(cfg: ModelConfig): Architecture {
  return {
    config: cfg,
    encoder: buildEncoder(cfg),
    levels: cfg.levels.map((_, l) => buildLevel(cfg, l)),
    decoder: buildDecoder(cfg),
  };
}

/** Every graph of the architecture, in a stable order. */
export function allGraphs(arch: Architecture): Graph[] {
  const gs: Graph[] = [arch.encoder];
  for (const lv of arch.levels) {
    gs.push(lv.preQuant);
    if (lv.condition) gs.push(lv.condition);
    gs.push(lv.upsampler);
  }
  gs.push(arch.decoder);
  return gs;
}

/** Parameter shapes of one graph (tfjs layouts, see the file comment). */
export function graphParams(graph: Graph): ParamSpec[] {
  const out: ParamSpec[] = [];
  for (const op of graph.ops) {
    if (op.kind === 'conv') {
      out.push({ name: `${op.name}.w`, shape: [op.k, op.k, op.inCh, op.outCh], fanIn: op.k * op.k * op.inCh, kind: 'weight' });
      out.push({ name: `${op.name}.b`, shape: [op.outCh], fanIn: op.k * op.k * op.inCh, kind: 'bias' });
    } else if (op.kind === 'convT') {
      // Each output pixel of a stride-2 k=4 transposed conv sees (k/stride)² input taps.
      const fanIn = ((op.k * op.k) / (op.stride * op.stride)) * op.inCh;
      out.push({ name: `${op.name}.w`, shape: [op.k, op.k, op.outCh, op.inCh], fanIn, kind: 'weight' });
      out.push({ name: `${op.name}.b`, shape: [op.outCh], fanIn, kind: 'bias' });
    }
  }
  return out;
}

/** All trainable parameters of the architecture. Codebooks are separate (EMA-updated). */
export function allParams(arch: Architecture): ParamSpec[] {
  return allGraphs(arch).flatMap(graphParams);
}

/** Codebook tensor name and shape [M, K, D] for level l. */
export function codebookSpec(cfg: ModelConfig, l: number): { name: string; shape: [number, number, number] } {
  const lv = cfg.levels[l];
  return { name: `codebook${l}`, shape: [lv.M, lv.K, lv.D] };
}

/**
 * Multiply-accumulate count of one graph for an H×W image (FLOPs = 2 × MACs). Used by the
 * training benchmark to report achieved GFLOP/s.
 */
export function graphMacs(graph: Graph, height: number, width: number): number {
  const strideOf = new Map<string, number>(graph.inputs.map((i) => [i.name, i.stride]));
  let macs = 0;
  const pix = (s: number): number => (height / s) * (width / s);
  for (const op of graph.ops) {
    if (op.kind === 'conv') {
      const s = (strideOf.get(op.input) ?? 1) * op.stride;
      macs += pix(s) * op.k * op.k * op.inCh * op.outCh;
      strideOf.set(op.output, s);
    } else if (op.kind === 'convT') {
      const sIn = strideOf.get(op.input) ?? 1;
      // Every input pixel scatters a k×k×out patch.
      macs += pix(sIn) * op.k * op.k * op.inCh * op.outCh;
      strideOf.set(op.output, sIn / op.stride);
    } else if (op.kind === 'add' || op.kind === 'concat') {
      strideOf.set(op.output, strideOf.get(op.inputs[0]) ?? 1);
    } else {
      strideOf.set(op.output, strideOf.get(op.input) ?? 1);
    }
  }
  return macs;
}
