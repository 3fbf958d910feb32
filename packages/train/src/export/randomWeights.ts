/**
 * Seeded random weights for a config, in the layout exportModel expects (tfjs layouts, codebook{l}
 * [M, K, D]). For tests and tools that need a model directory without training one: weights are
 * N(0, gain²/fanIn), biases N(0, 0.01²), codebook entries N(0, codebookStd²). Pure TypeScript.
 */
import { allParams, buildArchitecture, codebookSpec } from '../model/architecture.js';
import { isRateModel, priorContexts, type ModelConfig } from '../model/config.js';
import type { Weights } from './onnxGraph.js';

/** mulberry32 + Box–Muller: a small, fast, seeded normal generator. */
export function seededNormal(seed: number): () => number {
  let s = seed >>> 0;
  const uniform = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  let spare: number | null = null;
  return () => {
    if (spare !== null) {
      const v = spare;
      spare = null;
      return v;
    }
    const u = 1 - uniform();
    const v = uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
}

export interface RandomWeightOptions {
  /** Scale of the 1/sqrt(fanIn) weight std (default 1; ~1.3 keeps activations O(1) through the ReLUs). */
  gain?: number;
  /** Std of codebook entries (default 1). */
  codebookStd?: number;
  /** Rate models: τ of the entropy-constrained assignment (default 0.5). */
  tau?: number;
}

export function randomWeights(cfg: ModelConfig, seed = 1, opts: RandomWeightOptions = {}): Weights {
  const gain = opts.gain ?? 1;
  const codebookStd = opts.codebookStd ?? 1;
  const normal = seededNormal(seed);
  const weights: Weights = new Map();
  for (const p of allParams(buildArchitecture(cfg))) {
    const n = p.shape.reduce((a, b) => a * b, 1);
    const std = p.kind === 'weight' ? gain / Math.sqrt(p.fanIn) : 0.01;
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = normal() * std;
    weights.set(p.name, { shape: [...p.shape], data });
  }
  cfg.levels.forEach((_, l) => {
    const spec = codebookSpec(cfg, l);
    const data = new Float32Array(spec.shape[0] * spec.shape[1] * spec.shape[2]);
    for (let i = 0; i < data.length; i++) data[i] = normal() * codebookStd;
    weights.set(spec.name, { shape: [...spec.shape], data });
  });
  // A rate model's prior: skewed random counts (a few codes per context get most of the mass,
  // like a trained prior) and τ, so the assignment and the 'conditional' coder both have work.
  if (isRateModel(cfg)) {
    cfg.levels.forEach((lv, l) => {
      const C = priorContexts(cfg, l);
      const counts = new Float32Array(lv.M * C * lv.K);
      for (let i = 0; i < counts.length; i++) counts[i] = Math.exp(2 * normal());
      weights.set(`prior${l}.counts`, { shape: [lv.M, C, lv.K], data: counts });
      weights.set(`quant${l}.tau`, { shape: [1], data: Float32Array.of(opts.tau ?? 0.5) });
    });
  }
  return weights;
}
