/**
 * The demo page: pick a sample or open/drop a .dqc file, see the top-level preview, then the full
 * image, with its size, bits per pixel, provider and decode time; the original alongside when the
 * server has it (samples) or when it is dropped together with the .dqc.
 *
 * Query parameters: ?model=<model or model family dir URL> (default ./model/), ?provider=auto|webgpu|wasm,
 * ?worker=0 to decode on the page's thread (default: in a Web Worker, so the page never freezes).
 * window.dqcDemo exposes the library and a decode helper to scripts (the browser test uses it).
 */
import { createDecoder, drawToCanvas, isDqcError, isWebDecoderError, type DecodeResult, type ProviderChoice, type WebDecoder } from '@dqcodec/web';
import type { DecodedForScripts, DemoApi } from './api.js';

interface Sample {
  name: string;
  dqc: string;
  original?: string;
  width: number;
  height: number;
  bytes: number;
}

const params = new URLSearchParams(location.search);
const modelUrl = params.get('model') ?? './model/';
const inWorker = params.get('worker') !== '0';
const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const providerSelect = $<HTMLSelectElement>('provider');
const canvas = $<HTMLCanvasElement>('decoded');
const original = $<HTMLImageElement>('original');
const stats = $<HTMLTableElement>('stats');
const stage = $<HTMLSpanElement>('stage');
const errorBox = $<HTMLDivElement>('error');
providerSelect.value = params.get('provider') ?? 'auto';

const decoders = new Map<ProviderChoice, Promise<WebDecoder>>();

/** One decoder per provider choice, created on first use (a failed creation is retried next time). */
function decoderFor(provider: ProviderChoice): Promise<WebDecoder> {
  let d = decoders.get(provider);
  if (!d) {
    d = createDecoder({ model: modelUrl, provider, worker: inWorker });
    decoders.set(provider, d);
    d.catch(() => decoders.delete(provider));
  }
  return d;
}

function describeError(e: unknown): string {
  if (isDqcError(e) || isWebDecoderError(e)) return `${e.code}: ${e.message}`;
  return e instanceof Error ? e.message : String(e);
}

function setState(state: 'idle' | 'loading' | 'preview' | 'done' | 'error'): void {
  document.body.dataset.state = state;
}

function kb(n: number): string {
  return n < 10_000 ? `${n} B` : `${(n / 1024).toFixed(1)} KiB`;
}

function psnr(a: Uint8ClampedArray, b: Uint8ClampedArray): number {
  let se = 0;
  let n = 0;
  for (let i = 0; i < a.length; i += 4) {
    for (let c = 0; c < 3; c++) {
      const d = a[i + c] - b[i + c];
      se += d * d;
      n++;
    }
  }
  return se === 0 ? Infinity : 10 * Math.log10((255 * 255) / (se / n));
}

async function originalPixels(url: string, w: number, h: number): Promise<Uint8ClampedArray | null> {
  const img = new Image();
  img.src = url;
  try {
    await img.decode();
  } catch {
    return null;
  }
  if (img.naturalWidth !== w || img.naturalHeight !== h) return null;
  const c = new OffscreenCanvas(w, h);
  const ctx = c.getContext('2d');
  if (!ctx) return null;
  ctx.drawImage(img, 0, 0);
  return ctx.getImageData(0, 0, w, h).data;
}

function showStats(name: string, d: WebDecoder, preview: DecodeResult | null, r: DecodeResult, quality: string): void {
  const rows: [string, string][] = [
    ['file', name],
    ['image', `${r.width}×${r.height}, ${['', 'grey', 'grey + alpha', 'RGB', 'RGBA'][r.channels]} (padded ${r.header.paddedWidth}×${r.header.paddedHeight})`],
    ['size', `${kb(r.fileBytes)} — ${r.bpp.toFixed(3)} bits per pixel`],
    ['levels', `${r.levelsUsed} of ${r.totalLevels} (${r.header.levels.map((l) => `${l.w}×${l.h}×${l.M}, K=${l.K}: ${kb(l.streamLength)}`).join('; ')})`],
    ['model', `${r.model.name}${r.model.quality !== undefined ? ` (quality ${r.model.quality} of model family ${d.family?.name})` : ''}`],
    ['provider', `${r.provider}${d.adapterInfo ? ` (${d.adapterInfo})` : ''}${d.fallbackReason ? ` — ${d.fallbackReason}` : ''}`],
    ['preview', preview ? `${preview.ms.toFixed(0)} ms (top level only, first ${kb(preview.header.levels[0].streamOffset + preview.header.levels[0].streamLength)} of the file)` : '—'],
    ['decode', `${r.ms.toFixed(0)} ms in all; this pass: entropy ${r.timings.entropy.toFixed(0)} ms, graph ${r.timings.inference.toFixed(0)} ms, pixels ${r.timings.pixels.toFixed(0)} ms`],
    ['quality', quality],
  ];
  stats.replaceChildren(
    ...rows.map(([k, v]) => {
      const tr = document.createElement('tr');
      const a = document.createElement('td');
      const b = document.createElement('td');
      a.textContent = k;
      b.textContent = v;
      b.dataset.key = k;
      tr.append(a, b);
      return tr;
    }),
  );
}

let generation = 0;

/** Decode one file (URL, File or bytes) into the canvas, preview first. */
async function show(name: string, source: string | Blob, originalUrl: string | null): Promise<void> {
  const my = ++generation;
  errorBox.textContent = '';
  stage.textContent = 'loading…';
  setState('loading');
  if (originalUrl) {
    original.src = originalUrl;
    original.hidden = false;
  } else {
    original.removeAttribute('src');
    original.hidden = true;
  }
  try {
    const d = await decoderFor(providerSelect.value as ProviderChoice);
    let preview: DecodeResult | null = null;
    const r = await d.decodeProgressive(source, {
      onProgress: (x) => {
        if (my !== generation) return;
        drawToCanvas(x, canvas);
        if (!x.final) {
          preview = x;
          stage.textContent = `preview (top level, ${x.ms.toFixed(0)} ms)…`;
          setState('preview');
        }
      },
    });
    if (my !== generation) return;
    stage.textContent = `full image (${r.levelsUsed} levels, ${r.ms.toFixed(0)} ms)`;
    let quality = 'no original to compare with';
    if (originalUrl) {
      const px = await originalPixels(originalUrl, r.width, r.height);
      if (px) quality = `PSNR ${psnr(r.data, px).toFixed(2)} dB against the original (RGB)`;
    }
    showStats(name, d, preview, r, quality);
    setState('done');
  } catch (e) {
    if (my !== generation) return;
    stage.textContent = 'failed';
    errorBox.textContent = describeError(e);
    setState('error');
  }
}

async function loadSamples(): Promise<Sample[]> {
  const box = $<HTMLSpanElement>('samples');
  try {
    const res = await fetch('./samples/index.json');
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const list = (await res.json()) as Sample[];
    box.replaceChildren('Samples: ');
    for (const s of list) {
      const b = document.createElement('button');
      b.textContent = `${s.name} (${s.width}×${s.height}, ${kb(s.bytes)})`;
      b.dataset.sample = s.name;
      b.onclick = () => void show(`${s.name}.dqc`, $<HTMLInputElement>('slow').checked ? `${s.dqc}?slow=1` : s.dqc, s.original ?? null);
      box.append(b);
    }
    if (list.length === 0) box.append('none on this server');
    return list;
  } catch {
    box.replaceChildren('Samples: none on this server');
    return [];
  }
}

function openFiles(files: FileList | File[]): void {
  const all = Array.from(files);
  const dqc = all.find((f) => f.name.toLowerCase().endsWith('.dqc'));
  const img = all.find((f) => f.type.startsWith('image/'));
  if (!dqc) {
    errorBox.textContent = 'Choose a .dqc file (and, optionally, its original image to compare).';
    return;
  }
  void show(dqc.name, dqc, img ? URL.createObjectURL(img) : null);
}

$<HTMLInputElement>('file').addEventListener('change', (e) => {
  const input = e.target as HTMLInputElement;
  if (input.files) openFiles(input.files);
});
document.addEventListener('dragover', (e) => {
  e.preventDefault();
  document.body.classList.add('dragging');
});
document.addEventListener('dragleave', () => document.body.classList.remove('dragging'));
document.addEventListener('drop', (e) => {
  e.preventDefault();
  document.body.classList.remove('dragging');
  if (e.dataTransfer?.files) openFiles(e.dataTransfer.files);
});

/** For scripts and the browser test: decode a URL with a provider and get the pixels back (base64). */
async function decodeUrl(url: string, provider: ProviderChoice = 'auto', options: { levels?: number; preview?: boolean } = {}): Promise<DecodedForScripts> {
  const d = await decoderFor(provider);
  const progress: { levelsUsed: number; final: boolean; ms: number }[] = [];
  const onProgress = (x: DecodeResult): void => void progress.push({ levelsUsed: x.levelsUsed, final: x.final, ms: x.ms });
  const r = await d.decodeProgressive(url, { levels: options.levels, preview: options.preview, onProgress });
  let bin = '';
  for (let i = 0; i < r.data.length; i += 0x8000) bin += String.fromCharCode(...r.data.subarray(i, i + 0x8000));
  return {
    width: r.width,
    height: r.height,
    channels: r.channels,
    provider: r.provider,
    adapter: d.adapterInfo,
    fallbackReason: d.fallbackReason,
    model: { name: r.model.name, quality: r.model.quality },
    ms: r.ms,
    timings: r.timings,
    bpp: r.bpp,
    progress,
    rgba: btoa(bin),
  };
}

const ready = (async () => {
  const samples = loadSamples();
  try {
    const d = await decoderFor(providerSelect.value as ProviderChoice);
    const m = d.info;
    const f = d.family;
    const what = m
      ? `Model “${m.name}” (${m.levels.map((l) => `stride ${l.stride}: M=${l.M}, K=${l.K}`).join('; ')}), fingerprint ${m.fingerprint.slice(0, 12)}…`
      : `Model family “${f?.name}” (${f?.qualities.length} qualities; each file's member is loaded when first decoded)`;
    $<HTMLDivElement>('model').textContent =
      `${what}, ` +
      `running on ${d.provider}${d.worker ? ' in a Web Worker' : ''}${d.adapterInfo ? ` (${d.adapterInfo})` : ''}${d.fallbackReason ? ` — ${d.fallbackReason}` : ''}.`;
  } catch (e) {
    $<HTMLDivElement>('model').textContent = `The model could not be loaded: ${describeError(e)}`;
  }
  await samples;
  setState('idle');
})();

providerSelect.addEventListener('change', () => {
  const u = new URL(location.href);
  u.searchParams.set('provider', providerSelect.value);
  history.replaceState(null, '', u);
});

const api: DemoApi = { ready, decodeUrl, createDecoder, drawToCanvas };
window.dqcDemo = api;
