/**
 * Importing onnxruntime-web on demand, one build at a time (see runtime.ts). Kept apart from the
 * decoder so that the worker bundles, which import one build statically, contain no dynamic
 * imports (bundlers' default worker format, IIFE, cannot split code).
 */
import { firstLine, WebDecoderError } from './errors.js';
import type { Ort, OrtBuild } from './runtime.js';

const builds = new Map<OrtBuild, Promise<Ort>>();

/** Import one onnxruntime-web build (once; a failed import is retried on the next call). */
export function loadOrt(build: OrtBuild): Promise<Ort> {
  let p = builds.get(build);
  if (!p) {
    const imported: Promise<unknown> = build === 'webgpu' ? import('onnxruntime-web/webgpu') : import('onnxruntime-web/wasm');
    p = imported.then(
      (m) => m as Ort,
      (e: unknown) => {
        builds.delete(build);
        throw new WebDecoderError('SESSION_FAILED', `cannot load onnxruntime-web (${build} build): ${firstLine(e)}`, { cause: e });
      },
    );
    builds.set(build, p);
  }
  return p;
}

