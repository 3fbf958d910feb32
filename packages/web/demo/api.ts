/** What the demo page exposes as window.dqcDemo (for scripts: the browser test, scripts/measure.ts). */
import type { createDecoder, DecodeResult, drawToCanvas, ProviderChoice } from '@dqcodec/web';

export interface DecodedForScripts {
  width: number;
  height: number;
  channels: number;
  provider: string;
  /** WebGPU adapter, e.g. "google swiftshader"; null on WASM. */
  adapter: string | null;
  fallbackReason: string | null;
  /** The model that decoded the file (with a family: the member, with its quality). */
  model: { name: string; quality?: number };
  /** Whole call (preview included when there is one). */
  ms: number;
  timings: DecodeResult['timings'];
  bpp: number;
  progress: { levelsUsed: number; final: boolean; ms: number }[];
  /** RGBA pixels, base64. */
  rgba: string;
}

export interface DemoApi {
  /** Settles when the model and the sample list have loaded (or failed, which the page shows). */
  ready: Promise<void>;
  decodeUrl(url: string, provider?: ProviderChoice, options?: { levels?: number; preview?: boolean }): Promise<DecodedForScripts>;
  createDecoder: typeof createDecoder;
  drawToCanvas: typeof drawToCanvas;
}

declare global {
  interface Window {
    dqcDemo: DemoApi;
  }
}
