/**
 * onnxruntime-web, loaded lazily. Two builds of the same runtime are used:
 *
 *   - 'onnxruntime-web/webgpu' (WebGPU EP + WASM EP; its wasm binary is
 *     ort-wasm-simd-threaded.asyncify.wasm, ~27 MB, ~6.7 MB gzipped), loaded only when the
 *     browser offers a WebGPU adapter and WebGPU is wanted;
 *   - 'onnxruntime-web/wasm' (WASM EP only; ort-wasm-simd-threaded.wasm, ~14 MB, ~3.7 MB
 *     gzipped), loaded for provider 'wasm' and for 'auto' without WebGPU.
 *
 * Both resolve their wasm files relative to their own module URL, i.e. from the application's own
 * server (bundlers such as Vite emit them as assets); `wasmPaths` overrides that. Nothing is ever
 * fetched from a CDN.
 */
import type * as OrtWeb from 'onnxruntime-web';
import { firstLine, withTimeout } from './errors.js';

/** The onnxruntime-web module namespace (any of its builds). */
export type Ort = typeof OrtWeb;
export type OrtBuild = 'webgpu' | 'wasm';

/**
 * Where onnxruntime-web finds its .wasm (and .mjs loader) files: a URL prefix ending in '/', or
 * explicit URLs (ort.env.wasm.wasmPaths).
 */
export type WasmPaths = string | { mjs?: string | URL; wasm?: string | URL };

/** The part of a WebGPU adapter this package looks at (avoids a dependency on @webgpu/types). */
export interface GpuAdapterLike {
  readonly features: { has(name: string): boolean };
  readonly limits: { readonly maxStorageBufferBindingSize?: number; readonly maxBufferSize?: number };
  readonly info?: { vendor?: string; architecture?: string; description?: string; isFallbackAdapter?: boolean };
  /** Older browsers: on the adapter itself (since moved to info). */
  readonly isFallbackAdapter?: boolean;
}

/**
 * When `adapter` renders in software (the browser's fallback adapter, or SwiftShader, which runs
 * WebGPU on the CPU far slower than onnxruntime's WASM kernels), a short description of it; else null.
 */
export function softwareAdapter(adapter: GpuAdapterLike): string | null {
  const info = adapter.info ?? {};
  const desc = [info.vendor, info.architecture, info.description].filter(Boolean).join(' ');
  if (/swiftshader/i.test(desc)) return desc;
  if (info.isFallbackAdapter === true || adapter.isFallbackAdapter === true) return desc ? `fallback adapter: ${desc}` : 'fallback adapter';
  return null;
}

/**
 * The WebGPU adapter the browser offers, or null (no navigator.gpu, no adapter, an error, or no
 * answer within `timeoutMs`), with the reason.
 */
export async function findWebGpuAdapter(timeoutMs: number): Promise<{ adapter: GpuAdapterLike | null; reason: string }> {
  const gpu = (globalThis as { navigator?: { gpu?: { requestAdapter?: (o?: object) => Promise<GpuAdapterLike | null> } } }).navigator?.gpu;
  if (!gpu || typeof gpu.requestAdapter !== 'function') {
    const secure = (globalThis as { isSecureContext?: boolean }).isSecureContext;
    return { adapter: null, reason: secure === false ? 'navigator.gpu is missing (WebGPU needs a secure context: https or localhost)' : 'navigator.gpu is missing (this browser has no WebGPU)' };
  }
  try {
    const adapter = await withTimeout(gpu.requestAdapter(), timeoutMs, () => new Error(`no answer within ${timeoutMs} ms`));
    return adapter ? { adapter, reason: '' } : { adapter: null, reason: 'navigator.gpu.requestAdapter() returned no adapter (WebGPU disabled or no usable GPU)' };
  } catch (e) {
    return { adapter: null, reason: `navigator.gpu.requestAdapter() failed: ${firstLine(e)}` };
  }
}

export interface RuntimeSettings {
  wasmPaths?: WasmPaths;
  numThreads?: number;
}

/**
 * Apply settings to an onnxruntime-web module's global env. They take effect when that build's
 * WASM runtime initialises (its first session), so the first decoder created decides them.
 */
export function configureOrt(ort: Ort, settings: RuntimeSettings, adapter: GpuAdapterLike | null): void {
  const env = ort.env;
  if (settings.wasmPaths !== undefined) env.wasm.wasmPaths = settings.wasmPaths as typeof env.wasm.wasmPaths;
  if (settings.numThreads !== undefined) env.wasm.numThreads = settings.numThreads;
  // Hand our adapter to the WebGPU EP so that it does not request a second one.
  if (adapter && env.webgpu && !env.webgpu.adapter) (env.webgpu as { adapter: unknown }).adapter = adapter;
}
