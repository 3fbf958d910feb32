import { parseModelConfig } from '../model/config.js';
import { loadCheckpoint } from '../train/checkpoint.js';
import { exportModel, type ExportOptions, type ExportResult } from './exportModel.js';

/** `dqcodec export`: a training checkpoint (or a training --out directory) → ONNX model directory. */
export async function exportCheckpoint(checkpoint: string, outDir: string, opts: ExportOptions = {}): Promise<ExportResult & { step: number }> {
  const ck = await loadCheckpoint(checkpoint);
  // --name renames the model (a fine-tune of "default" is another model); validated like a config name.
  const cfg = parseModelConfig(opts.name === undefined ? ck.config : { ...(ck.config as object), name: opts.name });
  const result = await exportModel(cfg, ck.weights, outDir, opts);
  return { ...result, step: ck.step };
}
