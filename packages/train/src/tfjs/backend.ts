/**
 * TensorFlow.js backend selection at run time. Best first: tfjs-node-gpu, tfjs-node (both
 * optional: they download libtensorflow at install time, which not every machine can), wasm, cpu.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import os from 'node:os';
import * as tf from './tf.js';

export type BackendPreference = 'auto' | 'tensorflow' | 'wasm' | 'cpu';

export class BackendError extends Error {
  override name = 'BackendError';
}

export interface SelectedBackend {
  name: string;
  reason: string;
}

const require = createRequire(import.meta.url);

async function tryNative(): Promise<SelectedBackend | null> {
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      await import(/* @vite-ignore */ pkg);
      if (await tf.setBackend('tensorflow')) return { name: 'tensorflow', reason: `${pkg} (libtensorflow)` };
    } catch {
      // Not installed or libtensorflow failed to load: the optional native backends are absent.
    }
  }
  return null;
}

async function tryWasm(): Promise<SelectedBackend | null> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  // In Node the .wasm binaries are loaded from the package's own dist folder.
  const dist = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
  wasm.setWasmPaths(dist + '/');
  wasm.setThreadsCount(os.availableParallelism());
  if (!(await tf.setBackend('wasm'))) return null;
  await tf.ready();
  return { name: 'wasm', reason: `tfjs-backend-wasm, ${wasm.getThreadsCount()} thread(s), ${join('', '')}SIMD where supported` };
}

async function tryCpu(): Promise<SelectedBackend | null> {
  await import('@tensorflow/tfjs-backend-cpu');
  return (await tf.setBackend('cpu')) ? { name: 'cpu', reason: 'tfjs-backend-cpu (plain JavaScript, slowest)' } : null;
}

/** Selects and initialises a backend; an explicitly requested one that cannot load is an error. */
export async function selectBackend(preferred: BackendPreference = 'auto'): Promise<SelectedBackend> {
  // tfjs prints a banner suggesting tfjs-node on first use in Node; production mode silences it.
  tf.enableProdMode();
  const order: Record<BackendPreference, (() => Promise<SelectedBackend | null>)[]> = {
    auto: [tryNative, tryWasm, tryCpu],
    tensorflow: [tryNative],
    wasm: [tryWasm],
    cpu: [tryCpu],
  };
  for (const attempt of order[preferred]) {
    const got = await attempt().catch(() => null);
    if (got) return got;
  }
  throw new BackendError(
    preferred === 'tensorflow'
      ? 'backend "tensorflow" requested but neither @tensorflow/tfjs-node-gpu nor @tensorflow/tfjs-node is installed (npm install @tensorflow/tfjs-node)'
      : `backend "${preferred}" could not be initialised`,
  );
}
