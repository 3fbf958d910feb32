import { parseModelConfig } from '../model/config.js';
import { loadCheckpoint, type CheckpointData } from '../train/checkpoint.js';
import { exportModel, type ExportOptions, type ExportResult } from './exportModel.js';

/**
 * `dqcodec export`: a training checkpoint (a checkpoint directory, a training --out directory, or
 * one already loaded) → ONNX model directory.
 */
export async function exportCheckpoint(checkpoint: string | CheckpointData, outDir: string, opts: ExportOptions = {}): Promise<ExportResult & { step: number }> {
  const ck = typeof checkpoint === 'string' ? await loadCheckpoint(checkpoint) : checkpoint;
  // --name renames the model (a fine-tune of "default" is another model); validated like a config name.
  const cfg = parseModelConfig(opts.name === undefined ? ck.config : { ...(ck.config as object), name: opts.name });
  const result = await exportModel(cfg, ck.weights, outDir, opts);
  return { ...result, step: ck.step };
}
