/**
 * onnxruntime-node sessions for a model directory. Sessions are created once per graph and
 * reused; the execution provider is an option ('cpu' or 'cuda').
 */
import * as ort from 'onnxruntime-node';

export type ExecutionProvider = 'cpu' | 'cuda';

export class RuntimeError extends Error {
  override name = 'RuntimeError';
}

export interface SessionOptions {
  ep: ExecutionProvider;
  /** Intra-op threads (0 = onnxruntime's default: one per core). */
  threads?: number;
}

/** The CUDA EP ships separately; this is what users need to run to get it. */
export const CUDA_INSTALL_HINT =
  'the CUDA execution provider is not installed: run `npx --yes onnxruntime-node@<version> ... ` per README "CUDA" ' +
  '(reinstall onnxruntime-node with npm_config_onnxruntime_node_install=cuda12 on a machine with internet access)';

export function cudaAvailable(): boolean {
  return ort.listSupportedBackends().some((b) => b.name === 'cuda');
}

export async function createSession(path: string, opts: SessionOptions): Promise<ort.InferenceSession> {
  if (opts.ep === 'cuda' && !cudaAvailable()) throw new RuntimeError(CUDA_INSTALL_HINT);
  try {
    return await ort.InferenceSession.create(path, {
      executionProviders: [opts.ep],
      graphOptimizationLevel: 'all',
      intraOpNumThreads: opts.threads ?? 0,
    });
  } catch (err) {
    throw new RuntimeError(`cannot load ${path}: ${(err as Error).message.split('\n')[0]}`);
  }
}

export { ort };
