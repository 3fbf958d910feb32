/**
 * @dqcodec/web in a real browser: Debian's Chromium, headless, driven by playwright-core.
 *
 * The demo (packages/web/demo) is built with Vite and served on 127.0.0.1 with the shipped model
 * family (models/default: family.json + one model per quality, each file's member picked by its
 * fingerprint and loaded on first use) and the sample photos encoded by the Node codec with the
 * family's default member; crops are also encoded at two other qualities, and with the DQ-AE
 * (models/dq-ae, a single model directory, served at /dq-ae/). In the page, a sample is
 * decoded with provider 'wasm' and with 'webgpu' (`--enable-unsafe-webgpu` makes headless
 * Chromium expose SwiftShader's WebGPU adapter here), and the pixels are compared with the Node
 * reference (onnxruntime-node, same graph, same indices). Also: the demo UI shows the preview
 * and then the full image; a corrupted file and another model's file are refused with clear
 * errors; 'webgpu' without WebGPU rejects with WEBGPU_UNAVAILABLE and 'auto' falls back to WASM;
 * the no-bundler setup of the README (import map + copied onnxruntime files) works.
 *
 * Every step is bounded (launch, page, server lifetime). Skipped, with a message, only when
 * Chromium is absent (CI installs it; $CHROMIUM overrides the path).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import sharp from 'sharp';
import { DqCodec, encodeIndices, readHeader } from '@dqcodec/codec';
import type { DecodedForScripts as Decoded } from '../../packages/web/demo/api.js';
import { buildDemo, defaultModelDir, encodingModelDir, prepareSamples, startDemoServer, type DemoServer, type SampleFile } from '../../packages/web/demo/server.js';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`[browser] SKIPPED: no Chromium at ${CHROMIUM} (apt-get install chromium, or set $CHROMIUM)`);

const here = dirname(fileURLToPath(import.meta.url));
const webDir = join(here, '../../packages/web');
const ortDist = dirname(createRequire(import.meta.url).resolve('onnxruntime-web'));
const BASE_ARGS = ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-crash-reporter', '--no-first-run'];
/** The one flag that gives headless Chromium a WebGPU adapter here (SwiftShader, on the CPU). */
const WEBGPU_ARGS = ['--enable-unsafe-webgpu'];
const bundleDir = mkdtempSync(join(tmpdir(), 'dqcodec-web-bundle-'));
const dqAeDir = join(here, '../../models/dq-ae');
const familyJson = JSON.parse(readFileSync(join(defaultModelDir, 'family.json'), 'utf8')) as { name: string; defaultQuality: number; qualities: { dir: string }[] };

type Outcome<T> = { ok: true; value: T } | { ok: false; name: string; code?: string; message: string };

let server: DemoServer | null = null;
let sample: SampleFile;
let reference: Uint8Array; // RGB from the Node codec (the family's default member)
/** A 256×192 crop of the sample at other qualities (and with the DQ-AE): served at /test/<name>.dqc, with the Node codec's RGB. */
const crops: Record<'q2' | 'q9' | 'dq-ae', { bytes: Uint8Array; rgb: Uint8Array }> = {} as never;
/** Requests the server answered: path and bytes on the wire. */
const requests: { path: string; bytes: number }[] = [];
/** The sample coded with the model's learned prior ('conditional'), when the model is a rate model. */
let conditional: Uint8Array | null = null;
const browsers: Browser[] = [];
/** Uncaught exceptions and unhandled rejections in any page (there must be none). */
const pageErrors: string[] = [];

async function closePage(page: Page): Promise<void> {
  await page.close();
  expect(pageErrors).toEqual([]);
}

/** RGB PSNR of RGBA (base64) against interleaved RGB. */
function psnr(rgbaB64: string, rgb: Uint8Array): number {
  const rgba = Buffer.from(rgbaB64, 'base64');
  expect(rgba.length / 4).toBe(rgb.length / 3);
  let se = 0;
  for (let p = 0, n = rgb.length / 3; p < n; p++) {
    for (let c = 0; c < 3; c++) {
      const d = rgba[4 * p + c] - rgb[3 * p + c];
      se += d * d;
    }
    expect(rgba[4 * p + 3]).toBe(255);
  }
  return se === 0 ? Infinity : 10 * Math.log10((255 * 255) / (se / rgb.length));
}

let gpuBrowserP: Promise<Browser> | null = null;

/** The shared browser with WebGPU (launched once). */
function gpuBrowser(): Promise<Browser> {
  gpuBrowserP ??= launch(true);
  return gpuBrowserP;
}

async function launch(webgpu: boolean): Promise<Browser> {
  const b = await chromium.launch({ executablePath: CHROMIUM, args: [...BASE_ARGS, ...(webgpu ? WEBGPU_ARGS : [])], timeout: 60_000 });
  browsers.push(b);
  return b;
}

async function openPage(browser: Browser, path: string, init?: () => void): Promise<Page> {
  const page = await browser.newPage();
  page.setDefaultTimeout(100_000);
  page.on('pageerror', (e) => pageErrors.push(`${path}: ${e.message}`));
  if (init) await page.addInitScript(init);
  await page.goto(new URL(path, server!.url).href);
  return page;
}

/** Run `fn(arg)` in the page; a rejection comes back as { ok: false, name, code, message }. */
async function call<T, A>(page: Page, fn: (arg: A) => Promise<T>, arg: A): Promise<Outcome<T>> {
  return page.evaluate(
    async ([src, a]) => {
      try {
        // eslint-disable-next-line no-new-func
        const f = new Function(`return (${src})`)() as (x: unknown) => Promise<unknown>;
        return { ok: true, value: await f(a) };
      } catch (e) {
        const err = e as { name?: string; code?: string; message?: string };
        return { ok: false, name: err?.name ?? 'Error', code: err?.code, message: err?.message ?? String(e) };
      }
    },
    [fn.toString(), arg] as const,
  ) as Promise<Outcome<T>>;
}

function value<T>(o: Outcome<T>): T {
  if (!o.ok) throw new Error(`page threw ${o.name}${o.code ? ` [${o.code}]` : ''}: ${o.message}`);
  return o.value;
}

describe.skipIf(!haveChromium)('@dqcodec/web in headless Chromium (playwright-core)', () => {
  beforeAll(async () => {
    const [, samples] = await Promise.all([buildDemo(), prepareSamples()]);
    const { build } = await import('vite');
    // dqcodec-web.js for the no-bundler page, built into a temporary directory (packages/web/dist is
    // the package's own build, which the install test rebuilds while packing).
    await build({ configFile: join(webDir, 'vite.config.ts'), logLevel: 'warn', build: { outDir: bundleDir, emptyOutDir: true } });
    sample = samples.find((s) => s.name === 'evening-glow') ?? samples[0];
    expect(sample, 'samples/*.png are needed').toBeDefined();
    const bytes = new Uint8Array(readFileSync(sample.dqcPath));
    const codec = await DqCodec.load(encodingModelDir(defaultModelDir), { threads: 1 });
    const ref = await codec.decode(bytes);
    // A rate model also writes method-3 files; same assignment, so the same indices as `bytes`.
    if (codec.manifest.prior && sample.originalPath) conditional = await codec.encode(sample.originalPath, { method: 'conditional' });
    await codec.close();
    expect(ref.channels).toBe(3);
    reference = ref.pixels;

    const h = readHeader(bytes);
    const corrupt = bytes.slice();
    corrupt[h.levels[1].streamOffset + 100] ^= 0x10; // inside the bottom level's stream
    const manifest = JSON.parse(readFileSync(join(encodingModelDir(defaultModelDir), 'manifest.json'), 'utf8'));
    const crop = await sharp(sample.originalPath!).extract({ left: 256, top: 160, width: 256, height: 192 }).png().toBuffer();
    for (const [name, dir] of [['q2', join(defaultModelDir, familyJson.qualities[1].dir)], ['q9', join(defaultModelDir, familyJson.qualities[8].dir)], ['dq-ae', dqAeDir]] as const) {
      const c = await DqCodec.load(dir, { threads: 1 });
      const b = await c.encode(crop);
      crops[name] = { bytes: b, rgb: (await c.decode(b)).pixels };
      await c.close();
    }
    const levels = h.levels.map(({ M, h: hh, w, K }) => ({ M, h: hh, w, K, indices: new Uint16Array(M * hh * w) }));
    const foreign = encodeIndices(levels, { fingerprint: 'ab'.repeat(32), width: h.width, height: h.height, channels: 3, paddedWidth: h.paddedWidth, paddedHeight: h.paddedHeight }, manifest.entropy);

    const ortFiles = ['ort.webgpu.min.mjs', 'ort.wasm.min.mjs', 'ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm', 'ort-wasm-simd-threaded.asyncify.mjs', 'ort-wasm-simd-threaded.asyncify.wasm'];
    server = await startDemoServer({
      samples,
      lifetimeMs: 10 * 60_000,
      extra: {
        '/test/corrupt.dqc': corrupt,
        ...(conditional ? { '/test/conditional.dqc': conditional } : {}),
        '/test/foreign.dqc': foreign,
        ...Object.fromEntries(Object.entries(crops).map(([name, c]) => [`/test/${name}.dqc`, c.bytes])),
        '/badfamily/family.json': readFileSync(join(defaultModelDir, 'family.json'), 'utf8').slice(0, 300),
        '/badfamily2/family.json': JSON.stringify({ ...familyJson, defaultQuality: 99 }),
        '/test/truncated.dqc': bytes.subarray(0, h.levels[0].streamOffset + 10),
        // What a single-page app's server sends for a missing file: its index page.
        '/test/spa.dqc': new TextEncoder().encode('<!doctype html>\n<html><head><title>app</title></head><body><div id="app"></div></body></html>\n'),
        '/plain/index.html': { path: join(here, 'plain/index.html') },
        '/plain/dqcodec-web.js': { path: join(bundleDir, 'dqcodec-web.js') },
        ...Object.fromEntries(ortFiles.map((f) => [`/plain/ort/${f}`, { path: join(ortDist, f) }])),
      },
      dirs: { '/dq-ae/': dqAeDir },
      onRequest: (path, status, bytes) => void requests.push({ path, bytes: status === 200 ? bytes : 0 }),
    });
  }, 240_000);

  afterAll(async () => {
    for (const b of browsers) await b.close().catch(() => undefined);
    await server?.close();
  });

  it('demo page: a sample shows its top-level preview, then the full image with its figures', async () => {
    const page = await openPage(await gpuBrowser(), '/?provider=wasm');
    await page.evaluate(() => window.dqcDemo.ready);
    expect(await page.locator('#model').textContent()).toMatch(new RegExp(`Model family “${familyJson.name}”.*running on wasm in a Web Worker`));
    await page.check('#slow'); // chunked download: the preview is decoded before the file is complete
    await page.click(`button[data-sample="${sample.name}"]`);
    await page.waitForFunction(() => document.body.dataset.state === 'preview');
    expect(await page.locator('#stage').textContent()).toMatch(/preview/);
    await page.waitForFunction(() => document.body.dataset.state === 'done' || document.body.dataset.state === 'error');
    expect(await page.locator('#error').textContent()).toBe('');
    const stats = Object.fromEntries(
      await page.locator('#stats td[data-key]').evaluateAll((tds) => tds.map((td) => [(td as HTMLElement).dataset.key, td.textContent])),
    );
    expect(stats.image).toMatch(/^768×512, RGB/);
    expect(stats.size).toMatch(/bits per pixel/);
    expect(stats.provider).toMatch(/^wasm/);
    expect(stats.model).toMatch(new RegExp(`quality ${familyJson.defaultQuality} of model family ${familyJson.name}`));
    expect(stats.decode).toMatch(/ms in all/);
    expect(stats.quality).toMatch(/PSNR \d+\.\d+ dB/);
    const canvas = await page.locator('#decoded').evaluate((c) => [(c as HTMLCanvasElement).width, (c as HTMLCanvasElement).height]);
    expect(canvas).toEqual([768, 512]);
    expect(await page.locator('#original').getAttribute('src')).toBe(sample.original);
    await closePage(page);
  }, 120_000);

  it("provider 'wasm' matches the Node reference (PSNR ≥ 45 dB), preview first: in a Worker and on the page's thread", async () => {
    for (const [where, path] of [['worker', '/'], ['page thread', '/?worker=0']] as const) {
      const page = await openPage(await gpuBrowser(), path);
      await page.evaluate(() => window.dqcDemo.ready);
      const r = value(await call(page, (url: string) => window.dqcDemo.decodeUrl(url, 'wasm') as Promise<Decoded>, sample.dqc));
      expect([r.width, r.height, r.channels, r.provider]).toEqual([768, 512, 3, 'wasm']);
      expect(r.progress.map((p) => [p.levelsUsed, p.final])).toEqual([[1, false], [2, true]]);
      expect(r.model.quality).toBe(familyJson.defaultQuality);
      const db = psnr(r.rgba, reference);
      console.log(`[browser] wasm (${where}): ${r.width}×${r.height} in ${r.ms.toFixed(0)} ms (preview + full), PSNR vs onnxruntime-node ${db.toFixed(1)} dB`);
      expect(db).toBeGreaterThanOrEqual(45);
      await closePage(page);
    }
  }, 120_000);

  it('family: files of three qualities load three members, each once (Worker and page thread); the DQ-AE decodes from its own directory', async () => {
    for (const worker of [true, false]) {
      const page = await openPage(await gpuBrowser(), '/?provider=wasm');
      await page.evaluate(() => window.dqcDemo.ready);
      requests.length = 0;
      const run = (arg: { urls: string[]; worker: boolean; model: string }) =>
        (async () => {
          const d = await window.dqcDemo.createDecoder({ model: arg.model, provider: 'wasm', worker: arg.worker });
          const out: { url: string; quality?: number; name: string; progress: number[]; rgba: string }[] = [];
          try {
            for (const url of arg.urls) {
              const progress: number[] = [];
              const r = await d.decodeProgressive(url, { onProgress: (x) => progress.push(x.levelsUsed) });
              let bin = '';
              for (let i = 0; i < r.data.length; i += 0x8000) bin += String.fromCharCode(...r.data.subarray(i, i + 0x8000));
              out.push({ url, quality: r.model.quality, name: r.model.name, progress, rgba: btoa(bin) });
            }
          } finally {
            await d.dispose();
          }
          return out;
        })();
      const urls = ['test/q2.dqc', sample.dqc, 'test/q9.dqc', 'test/q2.dqc', sample.dqc];
      const out = value(await call(page, run, { urls, worker, model: './model/' }));
      expect(out.map((o) => o.quality)).toEqual([2, familyJson.defaultQuality, 9, 2, familyJson.defaultQuality]);
      for (const o of out) {
        expect(o.progress, o.url).toEqual([1, 2]); // preview first
        const ref = o.url === sample.dqc ? reference : crops[o.quality === 2 ? 'q2' : 'q9'].rgb;
        expect(psnr(o.rgba, ref), o.url).toBeGreaterThanOrEqual(45);
      }
      const model = requests.filter((r) => r.path.startsWith('/model/'));
      const member = (q: number) => familyJson.qualities[q - 1].dir;
      expect(model.map((r) => r.path).sort()).toEqual(
        ['/model/family.json', ...[2, familyJson.defaultQuality, 9].flatMap((q) => [`/model/${member(q)}/manifest.json`, `/model/${member(q)}/decoder.onnx`])].sort(),
      );
      const perMember = model.filter((r) => r.path.startsWith(`/model/${member(2)}/`)).reduce((n, r) => n + r.bytes, 0);
      console.log(
        `[browser] family (${worker ? 'Worker' : 'page thread'}): 5 decodes of 3 qualities fetched ${model.length} model files, ${model.reduce((n, r) => n + r.bytes, 0)} B on the wire (gzip); ` +
          `family.json ${model.find((r) => r.path === '/model/family.json')?.bytes} B, one member ${perMember} B`,
      );
      if (worker) {
        // The DQ-AE, a single model directory: decodes, preview first; the family refuses its file, naming the family.
        const dq = value(await call(page, run, { urls: ['test/dq-ae.dqc'], worker: true, model: '/dq-ae/' }));
        expect([dq[0].name, dq[0].quality, dq[0].progress]).toEqual([JSON.parse(readFileSync(join(dqAeDir, 'manifest.json'), 'utf8')).name, undefined, [1, 2]]);
        expect(psnr(dq[0].rgba, crops['dq-ae'].rgb)).toBeGreaterThanOrEqual(45);
        const refused = await call(page, run, { urls: ['test/dq-ae.dqc'], worker: true, model: './model/' });
        expect(refused).toMatchObject({ ok: false, name: 'DqcError', code: 'MODEL_MISMATCH', message: expect.stringMatching(new RegExp(`model family ${familyJson.name}`)) });
      }
      await closePage(page);
    }
  }, 180_000);

  it('Worker mode keeps the page responsive: no gap over 50 ms between animation frames, the preview on screen before the final image', async () => {
    const page = await openPage(await gpuBrowser(), '/?provider=wasm');
    await page.evaluate(() => window.dqcDemo.ready);
    type Run = { maxGap: number; frames: number; ms: number; previewFrame: number; finalFrame: number; create: number };
    const measure = (arg: { url: string; worker: boolean }): Promise<Run> =>
      (async () => {
        const canvas = document.createElement('canvas');
        document.body.append(canvas);
        let last = performance.now();
        let maxGap = 0;
        let frames = 0;
        let running = true;
        const tick = (): void => {
          const t = performance.now();
          maxGap = Math.max(maxGap, t - last);
          last = t;
          frames++;
          if (running) requestAnimationFrame(tick);
        };
        requestAnimationFrame(tick);
        await new Promise((r) => setTimeout(r, 100)); // frames are running
        const t0 = performance.now();
        const d = await window.dqcDemo.createDecoder({ model: './model/', provider: 'wasm', worker: arg.worker });
        const create = performance.now() - t0;
        let previewFrame = -1;
        let finalFrame = -1;
        const { drawToCanvas } = window.dqcDemo;
        const r = await d.decodeProgressive(arg.url, {
          onProgress: (x) => {
            drawToCanvas(x, canvas);
            if (x.final) finalFrame = frames;
            else previewFrame = frames;
          },
        });
        await new Promise((res) => requestAnimationFrame(() => res(undefined)));
        running = false;
        await d.dispose();
        canvas.remove();
        return { maxGap, frames, ms: r.ms, previewFrame, finalFrame, create };
      })();
    const worker = value(await call(page, measure, { url: sample.dqc, worker: true }));
    const thread = value(await call(page, measure, { url: sample.dqc, worker: false }));
    const load = readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
    console.log(
      `[browser] 768×512 wasm, createDecoder + decodeProgressive, longest main-thread gap between animation frames: ` +
        `Worker ${worker.maxGap.toFixed(1)} ms (${worker.frames} frames, decode ${worker.ms.toFixed(0)} ms, create ${worker.create.toFixed(0)} ms, preview at frame ${worker.previewFrame}, final at ${worker.finalFrame}); ` +
        `page thread ${thread.maxGap.toFixed(1)} ms (decode ${thread.ms.toFixed(0)} ms, create ${thread.create.toFixed(0)} ms, preview at frame ${thread.previewFrame}, final at ${thread.finalFrame}); load average ${load}`,
    );
    // The preview was drawn, then at least one whole frame (two animation-frame callbacks) ran before the final image.
    expect(worker.finalFrame).toBeGreaterThanOrEqual(worker.previewFrame + 2);
    expect(thread.finalFrame).toBeGreaterThanOrEqual(thread.previewFrame + 1);
    expect(worker.maxGap).toBeLessThan(50);
    await closePage(page);
  }, 120_000);

  it("provider 'webgpu' (SwiftShader) matches the Node reference (PSNR ≥ 45 dB)", async () => {
    const page = await openPage(await gpuBrowser(), '/');
    await page.evaluate(() => window.dqcDemo.ready);
    // SwiftShader runs WebGPU on the CPU: ~10 s per 768×512 pass here, so no separate preview pass.
    const r = value(await call(page, (url: string) => window.dqcDemo.decodeUrl(url, 'webgpu', { preview: false }) as Promise<Decoded>, sample.dqc));
    expect(r.provider).toBe('webgpu');
    expect(r.adapter).toMatch(/swiftshader/i);
    const db = psnr(r.rgba, reference);
    console.log(`[browser] webgpu (${r.adapter}): ${r.width}×${r.height} in ${r.ms.toFixed(0)} ms, PSNR vs onnxruntime-node ${db.toFixed(1)} dB`);
    expect(db).toBeGreaterThanOrEqual(45);
    expect(r.model.quality).toBe(familyJson.defaultQuality);
    // Progressive on WebGPU, with a second member (a 256×192 crop at quality 2): preview first, then the full image.
    const small = value(await call(page, (url: string) => window.dqcDemo.decodeUrl(url, 'webgpu') as Promise<Decoded>, 'test/q2.dqc'));
    expect([small.provider, small.model.quality]).toEqual(['webgpu', 2]);
    expect(small.progress.map((p) => [p.levelsUsed, p.final])).toEqual([[1, false], [2, true]]);
    const db2 = psnr(small.rgba, crops.q2.rgb);
    console.log(`[browser] webgpu progressive, quality 2 member: preview ${small.progress[0].ms.toFixed(0)} ms, full ${small.ms.toFixed(0)} ms, PSNR vs onnxruntime-node ${db2.toFixed(1)} dB`);
    expect(db2).toBeGreaterThanOrEqual(45);
    await closePage(page);
  }, 240_000);

  it("the 'conditional' method (a rate model's learned prior) decodes in WASM and WebGPU exactly like the same indices in a 'context' file", async (ctx) => {
    if (!conditional) ctx.skip(); // models/default has no learned prior
    expect(readHeader(conditional!).method).toBe('conditional');
    const page = await openPage(await gpuBrowser(), '/?worker=0');
    await page.evaluate(() => window.dqcDemo.ready);
    for (const provider of ['wasm', 'webgpu'] as const) {
      const decode = (url: string): Promise<Outcome<Decoded>> =>
        call(page, (a: { url: string; provider: string }) => window.dqcDemo.decodeUrl(a.url, a.provider as 'wasm', { preview: false }) as Promise<Decoded>, { url, provider });
      const viaPrior = value(await decode('/test/conditional.dqc'));
      const viaContext = value(await decode(sample.dqc));
      // Entropy decoding is integer arithmetic shared with Node: identical indices, identical pixels.
      expect(viaPrior.rgba).toBe(viaContext.rgba);
      const db = psnr(viaPrior.rgba, reference);
      console.log(`[browser] conditional method, ${provider}: identical to the context file's pixels; PSNR vs onnxruntime-node ${db.toFixed(1)} dB`);
      expect(db).toBeGreaterThanOrEqual(45);
    }
    await closePage(page);
  }, 300_000);

  it('refuses a corrupted file, a truncated file and another model’s file with clear errors', async () => {
    const page = await openPage(await gpuBrowser(), '/');
    await page.evaluate(() => window.dqcDemo.ready);
    const decode = (url: string) => window.dqcDemo.decodeUrl(url, 'wasm');
    const corrupt = await call(page, decode, 'test/corrupt.dqc');
    expect(corrupt).toMatchObject({ ok: false, name: 'DqcError', code: 'STREAM_CRC' });
    expect(!corrupt.ok && corrupt.message).toMatch(/stream of level 1 is corrupt/);
    const truncated = await call(page, decode, 'test/truncated.dqc');
    expect(truncated).toMatchObject({ ok: false, name: 'DqcError', code: 'TRUNCATED' });
    const foreign = await call(page, decode, 'test/foreign.dqc');
    expect(foreign).toMatchObject({ ok: false, name: 'DqcError', code: 'MODEL_MISMATCH' });
    expect(!foreign.ok && foreign.message).toMatch(new RegExp(`encoded by another model \\(fingerprint abababab.*model family ${familyJson.name}`));
    const spa = await call(page, decode, 'test/spa.dqc');
    expect(spa).toMatchObject({ ok: false, name: 'DqcError', code: 'BAD_MAGIC' });
    expect(!spa.ok && spa.message).toMatch(/test\/spa\.dqc is an HTML page, not a \.dqc file/);
    const missing = await call(page, decode, 'test/nothing-here.dqc');
    expect(missing).toMatchObject({ ok: false, name: 'WebDecoderError', code: 'FETCH_FAILED' });
    expect(!missing.ok && missing.message).toMatch(/HTTP 404/);
    const badModel = await call(page, (m: string) => window.dqcDemo.createDecoder({ model: m, provider: 'wasm' }).then(() => 'created'), 'no-such-model/');
    expect(badModel).toMatchObject({ ok: false, code: 'MODEL_FETCH' });
    // A damaged family.json: not JSON, or a field out of range.
    for (const [m, re] of [['/badfamily/', /family\.json of .*\/badfamily\/ is not valid JSON/], ['/badfamily2/family.json', new RegExp(`family\\.json: field defaultQuality must be a quality in \\[1, ${familyJson.qualities.length}\\]`)]] as const) {
      for (const worker of [false, true]) {
        const bad = await call(page, (a: { m: string; worker: boolean }) => window.dqcDemo.createDecoder({ model: a.m, provider: 'wasm', worker: a.worker }).then(() => 'created'), { m, worker });
        expect(bad).toMatchObject({ ok: false, name: 'DqcError', code: 'BAD_MANIFEST' });
        expect(!bad.ok && bad.message).toMatch(re);
      }
    }
    // The UI shows the error instead of hanging.
    await page.setInputFiles('#file', { name: 'foreign.dqc', mimeType: 'application/octet-stream', buffer: readFileSync(sample.dqcPath).subarray(0, 200) });
    await page.waitForFunction(() => document.body.dataset.state === 'error');
    expect(await page.locator('#error').textContent()).toMatch(/^TRUNCATED: /);
    await closePage(page);
  }, 120_000);

  it("without WebGPU: 'webgpu' rejects (WEBGPU_UNAVAILABLE / SESSION_FAILED), 'auto' falls back to WASM", async () => {
    // 1. Chromium without --enable-unsafe-webgpu: navigator.gpu exists but offers no adapter.
    const page = await openPage(await launch(false), '/?provider=wasm');
    await page.evaluate(() => window.dqcDemo.ready);
    const create = (provider: 'auto' | 'webgpu', model = './model/') =>
      window.dqcDemo.createDecoder({ model, provider }).then(async (d) => {
        const r = { provider: d.provider, fallbackReason: d.fallbackReason };
        await d.dispose();
        return r;
      });
    const gpu = await call(page, create, 'webgpu');
    expect(gpu).toMatchObject({ ok: false, name: 'WebDecoderError', code: 'WEBGPU_UNAVAILABLE' });
    expect(!gpu.ok && gpu.message).toMatch(/requestAdapter\(\) returned no adapter.*use provider 'auto'/);
    expect(value(await call(page, create, 'auto'))).toEqual({ provider: 'wasm', fallbackReason: expect.stringMatching(/no adapter/) });
    await closePage(page);

    // 2. A browser without navigator.gpu at all (simulated by deleting it before the page runs).
    const bare = await openPage(await gpuBrowser(), '/?provider=wasm', () => {
      delete (Navigator.prototype as { gpu?: unknown }).gpu;
    });
    await bare.evaluate(() => window.dqcDemo.ready);
    expect(await bare.evaluate(() => 'gpu' in navigator)).toBe(false);
    expect(await call(bare, create, 'webgpu')).toMatchObject({ ok: false, code: 'WEBGPU_UNAVAILABLE', message: expect.stringMatching(/navigator\.gpu is missing/) });
    expect(value(await call(bare, create, 'auto'))).toEqual({ provider: 'wasm', fallbackReason: expect.stringMatching(/navigator\.gpu is missing/) });
    await closePage(bare);

    // 3. An adapter, but the WebGPU session fails (simulated: no device). One fresh page per
    //    attempt: after such a failure onnxruntime-web's WebGPU runtime is not usable again.
    const noDevice = () => {
      (GPUAdapter.prototype as { requestDevice: unknown }).requestDevice = () => Promise.reject(new Error('simulated: no device'));
    };
    //    A single model (the DQ-AE) creates its session in createDecoder, which rejects; a family
    //    creates each member's session at its first file, so that decode rejects.
    const createDqAe = (provider: 'auto' | 'webgpu') =>
      window.dqcDemo.createDecoder({ model: '/dq-ae/', provider }).then(async (d) => {
        const r = { provider: d.provider, fallbackReason: d.fallbackReason };
        await d.dispose();
        return r;
      });
    const strict = await openPage(await gpuBrowser(), '/?provider=wasm', noDevice);
    await strict.evaluate(() => window.dqcDemo.ready);
    expect(await call(strict, createDqAe, 'webgpu')).toMatchObject({ ok: false, code: 'SESSION_FAILED', message: expect.stringMatching(/cannot create the webgpu session/) });
    await closePage(strict);
    const strictFamily = await openPage(await gpuBrowser(), '/?provider=wasm&worker=0', noDevice);
    await strictFamily.evaluate(() => window.dqcDemo.ready);
    const familyGpu = await call(strictFamily, (url: string) => window.dqcDemo.decodeUrl(url, 'webgpu', { preview: false }), 'test/q2.dqc');
    expect(familyGpu).toMatchObject({ ok: false, code: 'SESSION_FAILED', message: expect.stringMatching(/cannot create the webgpu session/) });
    await closePage(strictFamily);
    // SwiftShader is a software adapter: 'auto' does not use it (it takes seconds where WASM takes
    // a fraction), 'webgpu' does (the test above).
    const soft = await openPage(await gpuBrowser(), '/?provider=wasm');
    await soft.evaluate(() => window.dqcDemo.ready);
    expect(value(await call(soft, create, 'auto'))).toEqual({ provider: 'wasm', fallbackReason: expect.stringMatching(/software one \(.*swiftshader/i) });
    await closePage(soft);
    // A hardware adapter (simulated: SwiftShader's info disguised) whose device fails.
    const hardwareNoDevice = () => {
      (GPUAdapter.prototype as { requestDevice: unknown }).requestDevice = () => Promise.reject(new Error('simulated: no device'));
      Object.defineProperty(GPUAdapter.prototype, 'info', { get: () => ({ vendor: 'simulated', architecture: 'hardware', description: '', isFallbackAdapter: false }) });
    };
    // (On the page's thread: a worker would see the real adapter, not these patches.)
    const fallback = await openPage(await gpuBrowser(), '/?provider=wasm&worker=0', hardwareNoDevice);
    await fallback.evaluate(() => window.dqcDemo.ready);
    expect(value(await call(fallback, createDqAe, 'auto'))).toEqual({ provider: 'wasm', fallbackReason: expect.stringMatching(/^the WebGPU session failed/) });
    await closePage(fallback);
    // A family: 'webgpu' until the first member's session fails, then WASM for it and every later member.
    const fallbackFamily = await openPage(await gpuBrowser(), '/?provider=wasm&worker=0', hardwareNoDevice);
    await fallbackFamily.evaluate(() => window.dqcDemo.ready);
    expect(value(await call(fallbackFamily, create, 'auto'))).toEqual({ provider: 'webgpu', fallbackReason: null });
    const r = value(await call(fallbackFamily, (url: string) => window.dqcDemo.decodeUrl(url, 'auto', { preview: false }), sample.dqc));
    expect(r.provider).toBe('wasm');
    expect(r.fallbackReason).toMatch(/^the WebGPU session failed/);
    expect(psnr(r.rgba, reference)).toBeGreaterThanOrEqual(45);
    const r2 = value(await call(fallbackFamily, (url: string) => window.dqcDemo.decodeUrl(url, 'auto', { preview: false }), 'test/q2.dqc'));
    expect(r2.provider).toBe('wasm');
    await closePage(fallbackFamily);
  }, 120_000);

  it('works without a bundler: dist/dqcodec-web.js + import map + copied onnxruntime-web files', async () => {
    const page = await openPage(await gpuBrowser(), '/plain/index.html');
    await page.waitForFunction(() => typeof (window as { plainDecode?: unknown }).plainDecode === 'function');
    const r = value(await call(page, (url: string) => (window as unknown as { plainDecode: (u: string, p: string) => Promise<Decoded> }).plainDecode(url, 'wasm'), `../${sample.dqc}`));
    expect(r.provider).toBe('wasm');
    expect(psnr(r.rgba, reference)).toBeGreaterThanOrEqual(45);
    // The WebGPU build loads from the same copied files (session only: a decode on SwiftShader is slow).
    expect(value(await call(page, (p: string) => (window as unknown as { plainSession: (p: string) => Promise<string> }).plainSession(p), 'webgpu'))).toBe('webgpu');
    await closePage(page);
  }, 120_000);
});
