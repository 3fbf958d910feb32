/**
 * onnxruntime-node sessions. The execution provider is an option ('cpu' or 'cuda'); the CUDA EP
 * is not bundled with the npm package, so asking for it without it installed gets a message
 * that says how to install it instead of a native stack trace.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { subpixelConvTranspose } from './graphRewrite.js';

export type ExecutionProvider = 'cpu' | 'cuda';
export const EXECUTION_PROVIDERS: readonly ExecutionProvider[] = ['cpu', 'cuda'];

/** The requested execution provider cannot be used (not installed, no GPU, …). */
export class ExecutionProviderError extends Error {
  override name = 'ExecutionProviderError';
}

export interface SessionOptions {
  ep: ExecutionProvider;
  /** Intra-op threads (0 or undefined = onnxruntime's default: one per physical core). */
  threads?: number;
  /**
   * Keep onnxruntime's CPU memory arena (faster repeated runs, but it never returns memory to
   * the OS, so the peak of the largest tile stays resident). Default false.
   */
  memArena?: boolean;
  /**
   * Hand the CPU EP sub-pixel convolutions instead of its slow ConvTranspose (graphRewrite.ts;
   * same function up to float rounding). Default true; ignored for CUDA, whose ConvTranspose is fine.
   */
  rewrite?: boolean;
}

/** The CUDA EP ships separately; this is what users need to run to get it. */
export const CUDA_INSTALL_HINT =
  'the CUDA execution provider of onnxruntime-node is not installed. On Linux x64 with CUDA 12 and cuDNN 9, run ' +
  '`ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node` (it downloads the provider from NuGet; README "CUDA"), or use --ep cpu';

function ortBinDir(): string | null {
  try {
    const main = createRequire(import.meta.url).resolve('onnxruntime-node');
    // main is <pkg>/dist/index.js; native files live in <pkg>/bin/napi-v6/<platform>/<arch>/.
    return join(dirname(dirname(main)), 'bin', 'napi-v6', process.platform, process.arch);
  } catch {
    return null;
  }
}

/** True when onnxruntime-node's CUDA provider library is present (it may still fail to load without a GPU/driver). */
export function cudaAvailable(): boolean {
  if (process.platform !== 'linux' && process.platform !== 'win32') return false;
  const dir = ortBinDir();
  if (!dir) return false;
  const lib = process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so';
  return existsSync(join(dir, lib));
}

/** Create a session from graph bytes (already verified by the caller). */
export async function createSession(graph: Uint8Array, what: string, opts: SessionOptions): Promise<ort.InferenceSession> {
  if (opts.ep === 'cuda' && !cudaAvailable()) throw new ExecutionProviderError(CUDA_INSTALL_HINT);
  try {
    const bytes = opts.ep === 'cpu' && opts.rewrite !== false ? subpixelConvTranspose(graph).bytes : graph;
    return await ort.InferenceSession.create(bytes, {
      executionProviders: [opts.ep],
      graphOptimizationLevel: 'all',
      intraOpNumThreads: opts.threads ?? 0,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      enableCpuMemArena: opts.memArena ?? false,
      logSeverityLevel: 3,
    });
  } catch (err) {
    const first = (err as Error).message.split('\n')[0];
    if (opts.ep === 'cuda') throw new ExecutionProviderError(`cannot start the CUDA execution provider for ${what}: ${first} (use --ep cpu, or see: ${CUDA_INSTALL_HINT})`);
    throw err;
  }
}

export { ort };
