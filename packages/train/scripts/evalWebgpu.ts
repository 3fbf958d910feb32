/**
 * Evaluates @tensorflow/tfjs-backend-webgpu in Node (dawn.node from the `webgpu` npm package) on
 * a CPU Vulkan/GL driver (Mesa lavapipe / llvmpipe), against the wasm backend (issue #8).
 *
 * The webgpu packages are NOT project dependencies (CI must not need them); install them
 * elsewhere and point this script at that node_modules:
 *
 *   apt-get install -y mesa-vulkan-drivers vulkan-tools        # lavapipe (+ Mesa EGL/GLES for llvmpipe GL)
 *   mkdir -p /tmp/webgpu-eval && cd /tmp/webgpu-eval && npm init -y
 *   npm install webgpu @tensorflow/tfjs-core@4.22.0 @tensorflow/tfjs-backend-webgpu@4.22.0
 *   cd /work/main && npx tsx packages/train/scripts/evalWebgpu.ts --modules /tmp/webgpu-eval/node_modules
 *
 * Options: --modules DIR (or DQCODEC_WEBGPU_MODULES), --dawn "backend=opengles" (dawn.node
 * options, comma-separated; default: try Vulkan, then OpenGL ES in compatibility mode),
 * --repeat 3 (rounds; medians reported), --reps 5 (convs per round), --batch 8 --crop 64 --steps 2
 * (training-step proxy), --no-train.
 *
 * What it measures, per round and backend (wasm and webgpu alternate, so both see the same load):
 *   conv   one 3×3 conv 64→64 on [8,64,64,64] (as benchmarkConv; FLOPs = 2·B·H·W·Cin·Cout·9),
 *          synchronised with `await y.data()`;
 *   step   the real DqAe model's differentiable training step: forward, MSE + β·commit,
 *          tf.variableGrads, global-norm clipping, AdamW. DqAe.trainStep itself cannot run on
 *          webgpu in Node: it (and the forward pass: sub-pixel kernels, quantizer score kernels)
 *          reads tensors with dataSync, and tfjs-backend-webgpu's readSync goes through
 *          OffscreenCanvas, which Node lacks. The proxy therefore leaves out the EMA codebook
 *          update / dead-code reset (JS on CPU, a few % of a step) and makes the weights that the
 *          forward pass reads synchronously CPU-resident first with an async `await v.data()`
 *          (outside the timed region), which is what makes the forward pass runnable at all.
 * Correctness: max |webgpu − wasm| and |webgpu − cpu| of the conv output (cpu on one image).
 *
 * The webgpu backend must register on the SAME tfjs-core instance as the project's tf.ts: its
 * `require('@tensorflow/tfjs-core')` is redirected to the project's copy, and
 * tf.findBackendFactory('webgpu') is checked.
 */
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { join, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '../src/tfjs/tf.js';
import { selectBackend } from '../src/tfjs/backend.js';
import { parseModelConfig } from '../src/model/config.js';
import { buildArchitecture, allGraphs, graphMacs } from '../src/model/architecture.js';
import { builtinConfigPath } from '../src/configs.js';
import { DqAe } from '../src/tfjs/model.js';
import { AdamW } from '../src/train/adamw.js';

// Minimal local views of the WebGPU objects we touch (the project does not depend on @webgpu/types).
interface AdapterLike {
  info?: Record<string, unknown>;
  featureLevel?: string;
  features: Iterable<string>;
  limits: Record<string, unknown>;
}
interface GpuLike {
  requestAdapter(opts?: Record<string, unknown>): Promise<AdapterLike | null>;
}
interface WebgpuModule {
  create(flags: string[]): GpuLike;
  globals: Record<string, unknown>;
}

const { values } = parseArgs({
  options: {
    modules: { type: 'string', default: process.env.DQCODEC_WEBGPU_MODULES },
    dawn: { type: 'string' },
    repeat: { type: 'string', default: '3' },
    reps: { type: 'string', default: '5' },
    batch: { type: 'string', default: '8' },
    crop: { type: 'string', default: '64' },
    steps: { type: 'string', default: '2' },
    config: { type: 'string', default: 'default' },
    'no-train': { type: 'boolean', default: false },
  },
});

const INSTALL = [
  'mkdir -p /tmp/webgpu-eval && cd /tmp/webgpu-eval && npm init -y',
  'npm install webgpu @tensorflow/tfjs-core@4.22.0 @tensorflow/tfjs-backend-webgpu@4.22.0',
  'npx tsx packages/train/scripts/evalWebgpu.ts --modules /tmp/webgpu-eval/node_modules',
].join('\n  ');

function missing(why: string): never {
  console.error(`evalWebgpu: ${why}\nThe webgpu packages are not project dependencies; install them outside the repo:\n  ${INSTALL}`);
  process.exit(2);
}

if (!values.modules) missing('no --modules DIR (or DQCODEC_WEBGPU_MODULES) given');
const modulesDir = resolve(values.modules);
if (!existsSync(modulesDir)) missing(`${modulesDir} does not exist`);
const extRequire = createRequire(join(modulesDir, '..', 'package.json'));
let webgpuPath: string;
let backendPath: string;
try {
  webgpuPath = extRequire.resolve('webgpu');
  backendPath = extRequire.resolve('@tensorflow/tfjs-backend-webgpu');
} catch (e) {
  missing(`cannot resolve 'webgpu' / '@tensorflow/tfjs-backend-webgpu' from ${modulesDir} (${(e as Error).message.split('\n')[0]})`);
}
const version = (pkgFile: string): string => (JSON.parse(readFileSync(pkgFile, 'utf8')) as { version: string }).version;
const projectRequire = createRequire(import.meta.url);
const projectCore = projectRequire.resolve('@tensorflow/tfjs-core');
const versions = {
  webgpu: version(join(modulesDir, 'webgpu', 'package.json')),
  tfjsBackendWebgpu: version(join(modulesDir, '@tensorflow', 'tfjs-backend-webgpu', 'package.json')),
  projectTfjsCore: tf.version_core,
};

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const round = (x: number, d = 2): number => +x.toFixed(d);
const errLine = (e: unknown): string => (e instanceof Error ? `${e.name}: ${e.message}` : String(e)).split('\n')[0];

// ---- 1. dawn.node adapter -------------------------------------------------------------------
// Mesa's EGL needs a platform without a display server.
process.env.EGL_PLATFORM ??= 'surfaceless';
process.env.XDG_RUNTIME_DIR ??= os.tmpdir();
const webgpu = (await import(pathToFileURL(webgpuPath).href)) as WebgpuModule;
Object.assign(globalThis, webgpu.globals);

type Attempt = { flags: string[]; featureLevel: 'core' | 'compatibility' };
const attempts: Attempt[] = values.dawn
  ? [{ flags: values.dawn.split(','), featureLevel: 'core' }, { flags: values.dawn.split(','), featureLevel: 'compatibility' }]
  : [
      { flags: ['backend=vulkan'], featureLevel: 'core' },
      { flags: ['backend=vulkan'], featureLevel: 'compatibility' },
      { flags: ['backend=opengles'], featureLevel: 'compatibility' },
    ];
const tried: { flags: string; featureLevel: string; result: string }[] = [];
let chosen: { gpu: GpuLike; attempt: Attempt; adapter: AdapterLike } | null = null;
for (const attempt of attempts) {
  try {
    const gpu = webgpu.create(attempt.flags);
    const adapter = await gpu.requestAdapter({ featureLevel: attempt.featureLevel });
    tried.push({ flags: attempt.flags.join(','), featureLevel: attempt.featureLevel, result: adapter ? 'adapter' : 'no adapter (see dawn warning on stderr)' });
    if (adapter) {
      chosen = { gpu, attempt, adapter };
      break;
    }
  } catch (e) {
    tried.push({ flags: attempt.flags.join(','), featureLevel: attempt.featureLevel, result: errLine(e) });
  }
}
const report: Record<string, unknown> = { versions, node: process.version, cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.availableParallelism(), loadavg: os.loadavg().map((l) => round(l)), tried };
if (!chosen) {
  console.log(JSON.stringify({ ...report, works: false, why: 'dawn.node found no usable adapter' }, null, 2));
  process.exit(1);
}
const { gpu, attempt, adapter } = chosen;
report.adapter = {
  dawn: attempt.flags.join(','),
  featureLevel: adapter.featureLevel ?? attempt.featureLevel,
  // dawn.node's GPUAdapterInfo fields are prototype getters: copy them by name.
  info: Object.fromEntries(['vendor', 'architecture', 'device', 'description', 'isFallbackAdapter'].map((k) => [k, adapter.info?.[k]])),
  features: [...adapter.features],
  maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
  maxComputeInvocationsPerWorkgroup: adapter.limits.maxComputeInvocationsPerWorkgroup,
};
// tfjs-backend-webgpu asks for { powerPreference } only: add the feature level that worked.
const navigatorGpu: GpuLike = { requestAdapter: (opts) => gpu.requestAdapter({ ...opts, featureLevel: attempt.featureLevel }) };
Object.defineProperty(globalThis, 'navigator', { value: { gpu: navigatorGpu }, configurable: true, writable: true });

// ---- 2. register tfjs-backend-webgpu on the project's tfjs-core -------------------------------
type ResolveFilename = (request: string, parent: { filename?: string } | undefined, ...rest: unknown[]) => string;
const Module = projectRequire('node:module') as { _resolveFilename: ResolveFilename };
const original = Module._resolveFilename;
Module._resolveFilename = function (request, parent, ...rest) {
  if (request === '@tensorflow/tfjs-core' && parent?.filename?.startsWith(modulesDir + sep)) return projectCore;
  return original.call(this, request, parent, ...rest);
};
try {
  extRequire(backendPath);
} finally {
  Module._resolveFilename = original;
}
if (!tf.findBackendFactory('webgpu')) {
  console.log(JSON.stringify({ ...report, works: false, why: "tfjs-backend-webgpu did not register 'webgpu' on the project's tfjs-core" }, null, 2));
  process.exit(1);
}
const wasm = await selectBackend('wasm');
report.wasm = { threads: wasm.threads, reason: wasm.reason };
try {
  if (!(await tf.setBackend('webgpu'))) throw new Error("tf.setBackend('webgpu') returned false");
} catch (e) {
  console.log(JSON.stringify({ ...report, works: false, why: `webgpu backend init failed: ${errLine(e)}` }, null, 2));
  process.exit(1);
}

// ---- 3. conv: timing and correctness -------------------------------------------------------------
const B = 8, S = 64, C = 64;
const convFlops = 2 * B * S * S * C * C * 9;
const xHost = tf.tidy(() => tf.randomNormal([B, S, S, C], 0, 1, 'float32', 1).dataSync() as Float32Array);
const wHost = tf.tidy(() => tf.randomNormal([3, 3, C, C], 0, 0.1, 'float32', 2).dataSync() as Float32Array);
const convBackends: string[] = [];
const convOn = async (backend: string, batch = B): Promise<Float32Array> => {
  await tf.setBackend(backend);
  convBackends.push(tf.getBackend());
  const x = tf.tensor4d(xHost.subarray(0, batch * S * S * C), [batch, S, S, C]);
  const w = tf.tensor4d(wHost, [3, 3, C, C]);
  const y = tf.conv2d(x, w, 1, 'same');
  const out = (await y.data()) as Float32Array;
  tf.dispose([x, w, y]);
  return out;
};
const maxAbsDiff = (a: Float32Array, b: Float32Array): number => {
  let m = 0;
  for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};
const yWebgpu = await convOn('webgpu');
const yWasm = await convOn('wasm');
const yCpu = await convOn('cpu', 1);
let bitIdentical = 0;
for (let i = 0; i < yWasm.length; i++) if (yWasm[i] === yWebgpu[i]) bitIdentical++;
let maxAbs = 0;
for (const v of yWasm) maxAbs = Math.max(maxAbs, Math.abs(v));
report.convCorrectness = {
  maxAbsOutput: round(maxAbs, 3),
  webgpuVsWasm: maxAbsDiff(yWebgpu, yWasm),
  webgpuVsCpu_image0: maxAbsDiff(yWebgpu, yCpu),
  wasmVsCpu_image0: maxAbsDiff(yWasm, yCpu),
  webgpuWasmBitIdenticalFraction: bitIdentical / yWasm.length,
  backendsUsed: convBackends,
};

const timeConv = async (backend: string, reps: number): Promise<number> => {
  await tf.setBackend(backend);
  const x = tf.tensor4d(xHost, [B, S, S, C]);
  const w = tf.tensor4d(wHost, [3, 3, C, C]);
  const run = async (): Promise<void> => {
    const y = tf.conv2d(x, w, 1, 'same');
    await y.data();
    y.dispose();
  };
  await run(); // warm-up (shader compilation / upload)
  await run();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) await run();
  const ms = (performance.now() - t0) / reps;
  tf.dispose([x, w]);
  return ms;
};

// ---- 4. training-step proxy on the real model ---------------------------------------------------
const configPath = builtinConfigPath(values.config!) ?? values.config!;
const cfg = parseModelConfig(JSON.parse(readFileSync(configPath, 'utf8')));
const batch = Number(values.batch);
const crop = Number(values.crop);
const steps = Number(values.steps);
const arch = buildArchitecture(cfg);
const convMacs = allGraphs(arch).reduce((s, g) => s + graphMacs(g, crop, crop), 0);
const quantMacs = cfg.levels.reduce((s, l) => s + (crop / l.stride) ** 2 * l.M * l.K * l.D, 0);
const flopsPerSample = 3 * 2 * (convMacs + quantMacs); // as bench:train
const imgHost = tf.tidy(() => tf.randomUniform([batch, crop, crop, 3], 0, 1, 'float32', 7).dataSync() as Float32Array);

interface Trainer { backend: string; model: DqAe; step(): Promise<[number, number]>; dispose(): void }
const makeTrainer = async (backend: string): Promise<Trainer> => {
  // Build and initialise the codebooks on wasm (initFromData reads z synchronously), then move.
  await tf.setBackend('wasm');
  const model = DqAe.create(cfg, 1);
  const xInit = tf.tensor4d(imgHost, [batch, crop, crop, 3]);
  model.initialiseCodebooks(xInit);
  xInit.dispose();
  await tf.setBackend(backend);
  const x = tf.tensor4d(imgHost, [batch, crop, crop, 3]);
  const optimizer = new AdamW({ learningRate: 2e-4 });
  const beta = cfg.quantizer.beta;
  const clipNorm = 1;
  return {
    backend,
    model,
    async step() {
      const { value, grads } = tf.variableGrads(() => {
        const out = model.forward(x);
        const mse = tf.mean(tf.squaredDifference(out.recon, x));
        return tf.add(mse, tf.mul(out.commitLoss, beta)) as tf.Scalar;
      }, model.trainableVariables);
      const norm = tf.tidy(() => {
        const names = Object.keys(grads);
        // A chain of adds, not tf.addN as in trainStep: tfjs-webgpu's AddN program binds one
        // storage buffer per input, more than compatibility mode allows (its pipeline is invalid
        // and the norm silently comes out 0).
        const n = tf.sqrt(names.map((k) => tf.sum(tf.square(grads[k]))).reduce((acc, t) => tf.add(acc, t))) as tf.Scalar;
        const scale = tf.div(clipNorm, tf.maximum(n, clipNorm));
        const clipped: tf.NamedTensorMap = {};
        for (const k of names) clipped[k] = tf.mul(grads[k], scale);
        optimizer.applyGradients(clipped);
        return n;
      });
      tf.dispose(grads);
      const [l, n] = await Promise.all([value.data(), norm.data()]);
      tf.dispose([value, norm]);
      return [l[0], n[0]];
    },
    dispose() {
      x.dispose();
    },
  };
};
// Untimed: give every weight the forward pass reads with dataSync a CPU copy (async read) while it
// stays resident on the backend (a trivial op uploads it first; webgpu drops the CPU copy of a
// tensor when it uploads it, and then readSync would need OffscreenCanvas).
const prefetch = async (t: Trainer): Promise<void> => {
  const vars = [...t.model.trainableVariables, ...t.model.quantizers.map((q) => q.codebook)];
  tf.dispose(tf.tidy(() => vars.map((v) => tf.add(v, 0))));
  await Promise.all(vars.map((v) => v.data()));
};
const timeSteps = async (trainer: Trainer): Promise<number> => {
  await tf.setBackend(trainer.backend);
  let ms = 0;
  for (let i = 0; i < steps; i++) {
    await prefetch(trainer);
    const t0 = performance.now();
    await trainer.step();
    ms += performance.now() - t0;
  }
  return ms / steps;
};

const conv: Record<string, number[]> = { wasm: [], webgpu: [] };
const step: Record<string, number[]> = { wasm: [], webgpu: [] };
const trainers: Record<string, Trainer> = {};
const firstStep: Record<string, { loss: number; gradNorm: number }> = {};
let trainError: string | null = null;
if (!values['no-train']) {
  // The real trainStep, once, to record why it cannot be used directly.
  try {
    await tf.setBackend('webgpu');
    const model = DqAe.create(cfg, 1);
    const x = tf.tensor4d(imgHost, [batch, crop, crop, 3]);
    model.trainStep(x, new AdamW({ learningRate: 2e-4 }), { clipNorm: 1 });
    report.realTrainStep = 'ran';
  } catch (e) {
    report.realTrainStep = `fails on webgpu: ${errLine(e)}`;
  }
  for (const b of ['wasm', 'webgpu']) {
    try {
      trainers[b] = await makeTrainer(b);
      await prefetch(trainers[b]);
      // Warm-up (shader compilation). Both models start from the same weights and codebooks, so
      // the first step's loss and gradient norm must agree across backends.
      const [loss, gradNorm] = await trainers[b].step();
      firstStep[b] = { loss, gradNorm };
    } catch (e) {
      trainError = `${b}: ${errLine(e)}`;
      break;
    }
  }
}
for (let r = 0; r < Number(values.repeat); r++) {
  for (const b of ['wasm', 'webgpu']) conv[b].push(await timeConv(b, Number(values.reps)));
  if (!values['no-train'] && !trainError) {
    try {
      for (const b of ['wasm', 'webgpu']) step[b].push(await timeSteps(trainers[b]));
    } catch (e) {
      trainError = `timed steps: ${errLine(e)}`;
    }
  }
}
const convSummary = (b: string): Record<string, unknown> => ({
  msRuns: conv[b].map((m) => round(m, 1)),
  msMedian: round(median(conv[b]), 1),
  gflops: round(convFlops / (median(conv[b]) / 1000) / 1e9, 2),
});
report.conv = { shape: [B, S, S, C], kernel: [3, 3, C, C], wasm: convSummary('wasm'), webgpu: convSummary('webgpu') };
if (!values['no-train']) {
  const stepSummary = (b: string): Record<string, unknown> =>
    step[b].length === 0
      ? { error: trainError }
      : {
          msRuns: step[b].map((m) => round(m, 0)),
          msMedian: round(median(step[b]), 0),
          imagesPerSecond: round(batch / (median(step[b]) / 1000), 2),
          gflops: round((batch * flopsPerSample) / (median(step[b]) / 1000) / 1e9, 2),
        };
  report.trainStepProxy = { config: cfg.name, batch, crop, stepsPerRun: steps, gflopPerSample: round(flopsPerSample / 1e9, 3), firstStep, wasm: stepSummary('wasm'), webgpu: stepSummary('webgpu') };
}
for (const t of Object.values(trainers)) t.dispose();
report.works = true;
report.loadavgAfter = os.loadavg().map((l) => round(l));
console.log(JSON.stringify(report, null, 2));
process.exit(0);
