/**
 * Chooses the TensorFlow.js backend at run time, best first:
 *
 *   tensorflow  @tensorflow/tfjs-node-gpu, then @tensorflow/tfjs-node (OPTIONAL packages: they
 *               download libtensorflow at install time, which this project's machines cannot
 *               do, so their absence is normal and `auto` simply moves on)
 *   wasm        @tensorflow/tfjs-backend-wasm (XNNPACK, SIMD), multi-threaded where possible
 *   cpu         @tensorflow/tfjs-backend-cpu (plain JS; ~40× slower than wasm for training)
 *
 * An explicitly requested backend that cannot load is a BackendError (one line, for users).
 *
 * wasm in Node
 * ------------
 * - The .wasm binaries are loaded from node_modules/@tensorflow/tfjs-backend-wasm/dist, found with
 *   createRequire(...).resolve (setWasmPaths).
 * - Threads: tfjs-backend-wasm 4.22 turns multithreading off in Node (`WASM_HAS_MULTITHREAD_SUPPORT`
 *   is hard-wired to false under IS_NODE, tfjs issue #3830) because its Emscripten pthread
 *   workers are started from `blob:` URLs, which Node's worker_threads refuse. Its C++ side also
 *   caps the XNNPACK pool at `os.cpus().length / 2` (it assumes hyper-threading), i.e. 1 thread on
 *   a 2-core machine. `enableWasmThreads` works around all three, for the duration of
 *   `tf.setBackend('wasm')` only: it forces the flag, writes the worker script and the module
 *   factory (the very text tfjs would put into the Blobs) to a temp dir and hands Node those file
 *   paths instead of blob URLs, and reports enough cores for the requested thread count. All
 *   patches are undone when initialisation ends, and the temp files are deleted (every pool worker
 *   has loaded them by then). If the threaded start fails, the single-threaded SIMD build is used
 *   and the reason says why. Measured on this project's 2-core machine (3×3 conv 64→64,
 *   [8,64,64,64], see `benchmarkConv`): ~32–38 GFLOP/s with 1 thread, ~60–65 GFLOP/s with 2.
 *   The workaround is tied to the tfjs-backend-wasm versions in WASM_THREADS_VERIFIED: on another
 *   version it is not attempted (a worker that fails to load would crash the process).
 *   Set DQCODEC_WASM_THREADS=n to choose the thread count (1 disables the workaround).
 *
 * The "Hi, looks like you are running TensorFlow.js in Node.js" banner is printed by the cpu
 * backend on its first tensor upload; we clear that one-shot flag on the cpu backend instance
 * (`firstUse`) instead of enabling tf.enableProdMode(), which would silence every tfjs warning.
 */
import { createRequire } from 'node:module';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from './tf.js';

export type BackendPreference = 'auto' | 'tensorflow' | 'wasm' | 'cpu';

export const BACKEND_PREFERENCES: readonly BackendPreference[] = ['auto', 'tensorflow', 'wasm', 'cpu'];

export class BackendError extends Error {
  override name = 'BackendError';
}

export interface BackendInfo {
  /** tf.getBackend(): 'tensorflow' | 'wasm' | 'cpu'. */
  name: string;
  /** One line: which package, why this one (and why not the better ones). */
  reason: string;
  /** Compute threads the backend uses (1 for cpu; XNNPACK pool size for wasm; 0 = unknown). */
  threads: number;
}

export interface SelectBackendOptions {
  /** wasm thread count; default DQCODEC_WASM_THREADS or os.availableParallelism() (max 8). */
  threads?: number;
}

const require = createRequire(import.meta.url);

/** tfjs-backend-wasm versions whose Node threading workaround has been verified. */
export const WASM_THREADS_VERIFIED = ['4.22.0'];

let selected: BackendInfo | null = null;

/**
 * Select and initialise a backend. `auto` takes the best that loads. Calling it again with the
 * same preference returns the backend already chosen; tfjs keeps one active backend per process,
 * and a wasm backend once initialised keeps its thread count.
 */
export async function selectBackend(preferred: BackendPreference = 'auto', opts: SelectBackendOptions = {}): Promise<BackendInfo> {
  if (!BACKEND_PREFERENCES.includes(preferred)) {
    throw new BackendError(`unknown backend '${String(preferred)}' (expected one of ${BACKEND_PREFERENCES.join(', ')})`);
  }
  if (selected && (preferred === 'auto' || preferred === selected.name) && tf.getBackend() === selected.name) return selected;

  const skipped: string[] = [];
  if (preferred === 'auto' || preferred === 'tensorflow') {
    const r = await tryTensorflow();
    if (r.ok) return (selected = r.info);
    if (preferred === 'tensorflow') {
      throw new BackendError(`backend 'tensorflow' is not available: ${r.why}. Install @tensorflow/tfjs-node (or -node-gpu) 4.22, or use --backend wasm`);
    }
    skipped.push(r.why);
  }
  if (preferred === 'auto' || preferred === 'wasm') {
    const r = await tryWasm(opts.threads ?? defaultThreads());
    if (r.ok) {
      if (skipped.length) r.info.reason += `; ${skipped.join('; ')}`;
      return (selected = r.info);
    }
    if (preferred === 'wasm') throw new BackendError(`backend 'wasm' failed to initialise: ${r.why}`);
    skipped.push(r.why);
  }
  const r = await tryCpu();
  if (r.ok) {
    if (skipped.length) r.info.reason += `; ${skipped.join('; ')}`;
    return (selected = r.info);
  }
  throw new BackendError(`no TensorFlow.js backend could be initialised: ${[...skipped, r.why].join('; ')}`);
}

type Attempt = { ok: true; info: BackendInfo } | { ok: false; why: string };

function defaultThreads(): number {
  const env = process.env.DQCODEC_WASM_THREADS;
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1) throw new BackendError(`DQCODEC_WASM_THREADS must be a positive integer, got '${env}'`);
    return n;
  }
  return os.availableParallelism();
}

/** Resolve a package's main file, or null when it is not installed. */
function resolvePackage(name: string): string | null {
  try {
    return require.resolve(name);
  } catch {
    return null;
  }
}

function packageVersion(name: string, main: string): string {
  // Walk up from the resolved main file to the package's package.json.
  let dir = dirname(main);
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === name) return pkg.version ?? 'unknown';
    } catch {
      /* keep walking */
    }
    dir = dirname(dir);
  }
  return 'unknown';
}

async function tryTensorflow(): Promise<Attempt> {
  const reasons: string[] = [];
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    const main = resolvePackage(pkg);
    if (!main) {
      reasons.push(`${pkg} not installed`);
      continue;
    }
    try {
      // A non-literal specifier: the package is optional and has no type declarations here.
      const spec: string = pkg;
      await import(spec);
    } catch (e) {
      reasons.push(`${pkg} failed to load (${firstLine(e)})`);
      continue;
    }
    if (tf.findBackendFactory('tensorflow') == null) {
      reasons.push(`${pkg} loaded but registered its backend on another tfjs-core copy (version mismatch with @tensorflow/tfjs-core ${tf.version_core})`);
      continue;
    }
    if (await quietly(() => tf.setBackend('tensorflow'))) {
      await tf.ready();
      const gpu = pkg.endsWith('-gpu');
      return { ok: true, info: { name: 'tensorflow', reason: `${pkg} ${packageVersion(pkg, main)} (libtensorflow${gpu ? ', CUDA' : ', CPU'})`, threads: 0 } };
    }
    reasons.push(`${pkg} could not initialise libtensorflow`);
  }
  return { ok: false, why: reasons.join(', ') };
}

let wasmModule: typeof import('@tensorflow/tfjs-backend-wasm') | null = null;
let wasmPathsSet = false;

async function tryWasm(threads: number): Promise<Attempt> {
  const main = resolvePackage('@tensorflow/tfjs-backend-wasm');
  if (!main) return { ok: false, why: '@tensorflow/tfjs-backend-wasm not installed' };
  const version = packageVersion('@tensorflow/tfjs-backend-wasm', main);
  try {
    wasmModule ??= await import('@tensorflow/tfjs-backend-wasm');
  } catch (e) {
    return { ok: false, why: `@tensorflow/tfjs-backend-wasm failed to load (${firstLine(e)})` };
  }
  const wasm = wasmModule;
  if (tf.findBackend('wasm') != null) {
    // Already initialised in this process (thread count fixed at that time).
    if (!(await quietly(() => tf.setBackend('wasm')))) return { ok: false, why: 'tf.setBackend("wasm") failed' };
    const n = wasm.getThreadsCount();
    return { ok: true, info: { name: 'wasm', reason: `@tensorflow/tfjs-backend-wasm ${version} (already initialised, ${n} thread${n === 1 ? '' : 's'})`, threads: n } };
  }
  const dist = dirname(main);
  if (!wasmPathsSet) {
    // The binaries sit next to the Node bundle (dist/tf-backend-wasm.node.js).
    wasm.setWasmPaths(dist.endsWith('/') ? dist : `${dist}/`);
    wasmPathsSet = true;
  }
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  const wanted = Math.max(1, Math.min(8, Math.floor(threads)));
  let note = '';
  if (wanted > 1) {
    if (!WASM_THREADS_VERIFIED.includes(version)) {
      note = `; threads not attempted (Node workaround verified for tfjs-backend-wasm ${WASM_THREADS_VERIFIED.join('/')}, found ${version})`;
    } else if (!simd) {
      note = '; threads not attempted (no wasm SIMD)';
    } else {
      const r = await initThreadedWasm(wasm, main, wanted);
      if (r.ok) {
        const n = wasm.getThreadsCount();
        return { ok: true, info: { name: 'wasm', reason: `@tensorflow/tfjs-backend-wasm ${version} (SIMD, ${n} threads)`, threads: n } };
      }
      note = `; threaded start failed (${r.why}), single-threaded`;
    }
  }
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  wasm.setThreadsCount(1);
  if (!(await quietly(() => tf.setBackend('wasm')))) {
    return { ok: false, why: `could not instantiate the wasm binaries in ${dist}` };
  }
  await tf.ready();
  const n = wasm.getThreadsCount();
  return { ok: true, info: { name: 'wasm', reason: `@tensorflow/tfjs-backend-wasm ${version} (${simd ? 'SIMD' : 'no SIMD'}, ${n} thread${n === 1 ? '' : 's'})${note}`, threads: n } };
}

/**
 * The Node threading workaround (see the file comment). Patches, for the duration of the wasm
 * initialisation only: the WASM_HAS_MULTITHREAD_SUPPORT flag, globalThis.Blob (to see the text
 * tfjs puts into its Blobs), URL.createObjectURL (to hand out file paths instead of blob URLs) and
 * os.cpus (the C++ side caps threads at cpus/2).
 */
async function initThreadedWasm(
  wasm: typeof import('@tensorflow/tfjs-backend-wasm'),
  bundlePath: string,
  threads: number,
): Promise<{ ok: true } | { ok: false; why: string }> {
  // The factory text tfjs puts into its Blob was compiled into the Node bundle, where rollup
  // renamed `require('fs')` etc. to `require$$N` and `global` to `commonjsGlobal`; a worker eval-
  // uating that text alone needs those names back.
  const bundle = readFileSync(bundlePath, 'utf8');
  const prelude = ['var commonjsGlobal = globalThis;'];
  for (const m of bundle.matchAll(/^var (require\$\$\d+) = require\('([a-z_]+)'\);$/gm)) prelude.push(`var ${m[1]} = require('${m[2]}');`);

  const tmp = mkdtempSync(join(os.tmpdir(), 'dqcodec-tfjs-wasm-'));
  const OrigBlob = globalThis.Blob;
  const origCreate = URL.createObjectURL;
  const origCpus = os.cpus;
  const texts = new WeakMap<object, string>();
  let files = 0;
  let mainScriptWritten = false;
  let workerScriptWritten = false;
  class RecordingBlob extends OrigBlob {
    constructor(parts?: BlobPart[], options?: BlobPropertyBag) {
      super(parts, options);
      if (parts && parts.every((p) => typeof p === 'string')) {
        const text = (parts as string[]).join('');
        if (text.startsWith('var WasmBackendModuleThreadedSimd')) {
          // tfjs passes this Blob as Module.mainScriptUrlOrBlob, which emscripten posts to each
          // worker; a String object survives structured cloning, and the worker's createObjectURL
          // (patched by our worker prelude) turns it back into the path.
          const path = join(tmp, 'module.cjs');
          writeFileSync(path, `${prelude.join('\n')}\n${text}`);
          mainScriptWritten = true;
          // eslint-disable-next-line no-constructor-return
          return new String(path) as unknown as RecordingBlob;
        }
        texts.set(this, text);
      }
    }
  }
  const patchedCreate = (obj: Blob): string => {
    const text = texts.get(obj);
    if (text === undefined) return origCreate(obj);
    const path = join(tmp, `worker-${files++}.cjs`);
    writeFileSync(
      path,
      'const __create = URL.createObjectURL;\n' +
        'URL.createObjectURL = (x) => (x instanceof String ? x.valueOf() : __create(x));\n' +
        'const __revoke = URL.revokeObjectURL;\n' +
        "URL.revokeObjectURL = (u) => { if (!String(u).startsWith('/')) __revoke(u); };\n" +
        text,
    );
    workerScriptWritten = true;
    return path;
  };
  const cores = origCpus();
  const fakeCpus = (): os.CpuInfo[] => {
    const out = [...cores];
    while (out.length < 2 * threads) out.push(cores[0] ?? { model: 'virtual', speed: 0, times: { user: 0, nice: 0, sys: 0, idle: 0, irq: 0 } });
    return out;
  };
  const wasProd = tf.env().getBool('PROD');
  let ok = false;
  try {
    globalThis.Blob = RecordingBlob as typeof Blob;
    URL.createObjectURL = patchedCreate;
    (os as { cpus: () => os.CpuInfo[] }).cpus = fakeCpus;
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
    wasm.setThreadsCount(threads);
    // Silence tfjs' own "Initialization of backend wasm failed" warnings: we report instead.
    tf.env().set('PROD', true);
    ok = await tf.setBackend('wasm');
  } catch (e) {
    return { ok: false, why: firstLine(e) };
  } finally {
    tf.env().set('PROD', wasProd);
    globalThis.Blob = OrigBlob;
    URL.createObjectURL = origCreate;
    (os as { cpus: () => os.CpuInfo[] }).cpus = origCpus;
    rmSync(tmp, { recursive: true, force: true });
  }
  if (!ok) return { ok: false, why: !workerScriptWritten || !mainScriptWritten ? 'tfjs did not create its worker scripts as expected' : 'wasm initialisation failed' };
  await tf.ready();
  unrefPoolWorkers();
  return { ok: true };
}

/**
 * XNNPACK's pool threads are Emscripten pthreads that run for the life of the module, and a
 * running pthread's worker_threads Worker is ref'd: the process would never exit on its own (a
 * CLI that failed would hang). They only serve synchronous kernel calls from the main thread,
 * so they need not keep the event loop alive.
 */
function unrefPoolWorkers(): void {
  const backend = tf.findBackend('wasm') as unknown as { wasm?: { PThread?: { runningWorkers?: { unref?: () => void }[]; unusedWorkers?: { unref?: () => void }[] } } } | null;
  const pool = backend?.wasm?.PThread;
  for (const w of [...(pool?.runningWorkers ?? []), ...(pool?.unusedWorkers ?? [])]) w.unref?.();
}

async function tryCpu(): Promise<Attempt> {
  try {
    await import('@tensorflow/tfjs-backend-cpu');
  } catch (e) {
    return { ok: false, why: `@tensorflow/tfjs-backend-cpu failed to load (${firstLine(e)})` };
  }
  if (!(await quietly(() => tf.setBackend('cpu')))) return { ok: false, why: 'tf.setBackend("cpu") failed' };
  await tf.ready();
  silenceCpuBanner();
  return { ok: true, info: { name: 'cpu', reason: '@tensorflow/tfjs-backend-cpu (plain JS, slow: for tests and as a last resort)', threads: 1 } };
}

/** The cpu backend prints its "install tfjs-node" banner on first use; mark it used. */
function silenceCpuBanner(): void {
  const be = tf.findBackend('cpu') as unknown as { firstUse?: boolean } | null;
  if (be && 'firstUse' in be) be.firstUse = false;
}

/** Run a tfjs call with its warnings off (PROD only silences log.warn in tfjs 4.x). */
async function quietly(fn: () => Promise<boolean>): Promise<boolean> {
  const wasProd = tf.env().getBool('PROD');
  tf.env().set('PROD', true);
  try {
    return await fn();
  } catch {
    return false;
  } finally {
    tf.env().set('PROD', wasProd);
  }
}

function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : typeof e === 'object' && e && 'message' in e ? String((e as { message: unknown }).message) : String(e);
  return msg.split('\n')[0];
}

export interface ConvBenchmark {
  backend: string;
  threads: number;
  msPerConv: number;
  gflops: number;
}

/**
 * GFLOP/s of one forward 3×3 convolution, 64→64 channels, on [batch, size, size, 64] ('same'
 * padding; FLOPs = 2·B·H·W·Cin·Cout·9), on the active backend.
 */
export function benchmarkConv(opts: { batch?: number; size?: number; channels?: number; reps?: number; warmup?: number } = {}): ConvBenchmark {
  const { batch = 8, size = 64, channels = 64, reps = 20, warmup = 3 } = opts;
  const x = tf.randomNormal([batch, size, size, channels], 0, 1, 'float32', 1) as tf.Tensor4D;
  const w = tf.randomNormal([3, 3, channels, channels], 0, 0.1, 'float32', 2) as tf.Tensor4D;
  const run = (): void => {
    const y = tf.conv2d(x, w, 1, 'same');
    y.dataSync();
    y.dispose();
  };
  for (let i = 0; i < warmup; i++) run();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) run();
  const ms = (performance.now() - t0) / reps;
  x.dispose();
  w.dispose();
  const flops = 2 * batch * size * size * channels * channels * 9;
  return { backend: tf.getBackend(), threads: selected?.threads ?? 0, msPerConv: ms, gflops: flops / (ms / 1000) / 1e9 };
}

// `npx tsx packages/train/src/tfjs/backend.ts [auto|wasm|cpu|tensorflow] [threads]` prints the
// chosen backend and the convolution benchmark (threads can only be set once per process, so
// compare thread counts by running this twice).
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const pref = (process.argv[2] ?? 'auto') as BackendPreference;
  const threads = process.argv[3] ? Number(process.argv[3]) : undefined;
  const info = await selectBackend(pref, { threads });
  const b = benchmarkConv();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  benchmarkConv({ warmup: 0 });
  const cpu = process.cpuUsage(cpu0);
  const busy = (cpu.user + cpu.system) / 1000 / (performance.now() - t0);
  console.log(JSON.stringify({ ...info, msPerConv: +b.msPerConv.toFixed(2), gflops: +b.gflops.toFixed(2), coresBusy: +busy.toFixed(2) }));
}
