/**
 * Exports a transform model's checkpoint as a family of model directories (one per operating point):
 *   tsx packages/train/scripts/exportTransform.ts --checkpoint runs/tc/checkpoint --out models/dqc-tc
 * Without --checkpoint, exports the untrained model (refiner output zero: plain transform coding).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { builtinConfigPath } from '../src/configs.js';
import { parseTransformConfig } from '../src/transform/config.js';
import { TransformModel } from '../src/transform/model.js';
import { exportTransformFamily } from '../src/transform/exportTransform.js';
import { loadCheckpoint } from '../src/train/checkpoint.js';
import { selectBackend } from '../src/tfjs/backend.js';
import type { Weights } from '../src/export/onnxGraph.js';

const { values: a } = parseArgs({ options: { checkpoint: { type: 'string' }, config: { type: 'string', default: 'tc' }, out: { type: 'string' }, default: { type: 'string' } } });
if (!a.out) throw new Error('--out is required');
let weights: Weights;
let config;
if (a.checkpoint) {
  const ck = await loadCheckpoint(a.checkpoint);
  config = parseTransformConfig(ck.config);
  weights = ck.weights as Weights;
  console.log(`checkpoint ${a.checkpoint} at step ${ck.step}`);
} else {
  await selectBackend('cpu');
  config = parseTransformConfig(JSON.parse(readFileSync(builtinConfigPath(a.config!) ?? a.config!, 'utf8')));
  const m = TransformModel.create(config, 1);
  weights = m.getWeights() as Weights;
  m.dispose();
  console.log('untrained refiner (plain transform coding)');
}
const r = await exportTransformFamily(config, weights, a.out, { defaultQuality: a.default ? Number(a.default) : undefined });
console.log(`wrote ${r.dirs.length} operating points under ${r.outDir}`);
