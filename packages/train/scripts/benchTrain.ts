/**
 * Training-throughput benchmark: images/s and achieved GFLOP/s of a training step.
 *
 *   npm run bench:train -- [--config default] [--batch 16] [--crop 64] [--steps 10] [--backend wasm]
 *
 * FLOPs per sample = 3 × forward FLOPs (forward + two backward products), where forward FLOPs
 * are 2 × the multiply-accumulates of every convolution plus the quantizer's distance matmuls.
 * Inputs are random images: throughput does not depend on content.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { AdamW } from '../src/train/adamw.js';
import * as tf from '../src/tfjs/tf.js';
import { selectBackend, type BackendPreference } from '../src/tfjs/backend.js';
import { parseModelConfig } from '../src/model/config.js';
import { buildArchitecture, allGraphs, graphMacs } from '../src/model/architecture.js';
import { builtinConfigPath } from '../src/configs.js';
import { DqAe } from '../src/tfjs/model.js';

const { values } = parseArgs({
  options: {
    config: { type: 'string', default: 'default' },
    batch: { type: 'string', default: '16' },
    crop: { type: 'string', default: '64' },
    steps: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    backend: { type: 'string', default: 'auto' },
  },
});
const configPath = builtinConfigPath(values.config!) ?? values.config!;
const cfg = parseModelConfig(JSON.parse(readFileSync(configPath, 'utf8')));
const batch = Number(values.batch);
const crop = Number(values.crop);
const steps = Number(values.steps);
const warmup = Number(values.warmup);

const backend = await selectBackend(values.backend as BackendPreference);
const arch = buildArchitecture(cfg);
const convMacs = allGraphs(arch).reduce((s, g) => s + graphMacs(g, crop, crop), 0);
const quantMacs = cfg.levels.reduce((s, l) => s + (crop / l.stride) ** 2 * l.M * l.K * l.D, 0);
const flopsPerSample = 3 * 2 * (convMacs + quantMacs);

const model = DqAe.create(cfg, 1);
const optimizer = new AdamW({ learningRate: 2e-4 });
const x = tf.randomUniform([batch, crop, crop, 3], 0, 1, 'float32', 7) as tf.Tensor4D;
for (let i = 0; i < warmup; i++) model.trainStep(x, optimizer, { clipNorm: 1 });
const t0 = performance.now();
for (let i = 0; i < steps; i++) model.trainStep(x, optimizer, { clipNorm: 1 });
const seconds = (performance.now() - t0) / 1000;
const imagesPerSecond = (batch * steps) / seconds;
const result = {
  config: cfg.name,
  backend: backend.name,
  batch,
  crop,
  steps,
  msPerStep: (seconds * 1000) / steps,
  imagesPerSecond,
  gflopPerSample: flopsPerSample / 1e9,
  achievedGflops: (imagesPerSecond * flopsPerSample) / 1e9,
  cpu: os.cpus()[0]?.model ?? 'unknown',
  cores: os.availableParallelism(),
  node: process.version,
};
console.log(JSON.stringify(result, null, 2));
console.log(
  `| ${result.config} | ${result.backend} | ${batch}×${crop}² | ${result.msPerStep.toFixed(0)} ms | ${imagesPerSecond.toFixed(1)} | ${result.achievedGflops.toFixed(2)} |`,
);
