/**
 * Where a training step's time goes: tf.profile of one step (after warm-up), per kernel name.
 *
 *   npm run profile:train -- [--config default] [--batch 16] [--crop 64] [--backend wasm] [--top 25]
 *
 * Kernel times come from the backend (wall time of each synchronous wasm kernel). 'forward' rows
 * are tf.customGrad wrappers whose time includes the kernels inside them, so they are listed but
 * left out of the kernel total; "JS / bookkeeping" is the step's wall time minus that total
 * (gradient tape, tensor allocation and disposal, the optimizer's per-variable loop in JS).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { AdamW } from '../src/train/adamw.js';
import * as tf from '../src/tfjs/tf.js';
import { selectBackend, type BackendPreference } from '../src/tfjs/backend.js';
import { parseModelConfig } from '../src/model/config.js';
import { builtinConfigPath } from '../src/configs.js';
import { DqAe } from '../src/tfjs/model.js';

const { values } = parseArgs({
  options: {
    config: { type: 'string', default: 'default' },
    batch: { type: 'string', default: '16' },
    crop: { type: 'string', default: '64' },
    backend: { type: 'string', default: 'auto' },
    top: { type: 'string', default: '25' },
    shapes: { type: 'boolean', default: false },
  },
});
const cfg = parseModelConfig(JSON.parse(readFileSync(builtinConfigPath(values.config!) ?? values.config!, 'utf8')));
const batch = Number(values.batch);
const crop = Number(values.crop);
const backend = await selectBackend(values.backend as BackendPreference);
const model = DqAe.create(cfg, 1);
const optimizer = new AdamW({ learningRate: 2e-4 });
const x = tf.randomUniform([batch, crop, crop, 3], 0, 1, 'float32', 7) as tf.Tensor4D;
for (let i = 0; i < 3; i++) model.trainStep(x, optimizer, { clipNorm: 1 });

const t0 = performance.now();
const profile = await tf.profile(() => {
  model.trainStep(x, optimizer, { clipNorm: 1 });
});
const wall = performance.now() - t0;

const rows = new Map<string, { ms: number; calls: number }>();
let kernelMs = 0;
for (const k of profile.kernels) {
  const ms = Number(k.kernelTimeMs) || 0;
  const key = values.shapes ? `${k.name} ${JSON.stringify(k.inputShapes)}` : k.name;
  const row = rows.get(key) ?? { ms: 0, calls: 0 };
  row.ms += ms;
  row.calls++;
  rows.set(key, row);
  if (k.name !== 'forward') kernelMs += ms;
}
console.log(`${cfg.name}, batch ${batch} × ${crop}², backend ${backend.reason}`);
console.log(`step wall time under tf.profile: ${wall.toFixed(0)} ms; kernels ${kernelMs.toFixed(0)} ms; JS / bookkeeping ${(wall - kernelMs).toFixed(0)} ms\n`);
console.log('| kernel | ms | share of step | calls |\n|---|---:|---:|---:|');
const sorted = [...rows].sort((a, b) => b[1].ms - a[1].ms).slice(0, Number(values.top));
for (const [name, r] of sorted) {
  const share = name.startsWith('forward') ? '(nested)' : `${((100 * r.ms) / wall).toFixed(1)}%`;
  console.log(`| ${name} | ${r.ms.toFixed(1)} | ${share} | ${r.calls} |`);
}
console.log(`| JS / bookkeeping | ${(wall - kernelMs).toFixed(1)} | ${((100 * (wall - kernelMs)) / wall).toFixed(1)}% | |`);
