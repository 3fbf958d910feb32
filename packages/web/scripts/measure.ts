/**
 * One-off measurement (not a test): decode the 768×512 samples in headless Chromium with each
 * provider and report decode times and what the browser downloads.
 *
 *   npm run measure -w packages/web -- [--runs 3] [--model models/default] [--providers wasm,webgpu]
 *
 * Each provider gets a fresh browser (cold caches), so the byte counts are what a first visit costs:
 * the demo page decodes in a Web Worker, and its server gzips what it sends (zlib level 6), so
 * "on the wire" is what a gzip-serving host transfers.
 * WebGPU here is SwiftShader (a CPU implementation), so its times say nothing about a real GPU.
 */
import { parseArgs } from 'node:util';
import { gzipSync, brotliCompressSync, constants } from 'node:zlib';
import { chromium } from 'playwright-core';
import type {} from '../demo/api.js';
import { buildDemo, defaultModelDir, prepareSamples, startDemoServer } from '../demo/server.js';

const { values } = parseArgs({ options: { providers: { type: 'string', default: 'wasm,webgpu' }, runs: { type: 'string', default: '3' }, model: { type: 'string', default: defaultModelDir }, chromium: { type: 'string', default: process.env.CHROMIUM ?? '/usr/bin/chromium' } } });
const runs = Number(values.runs);

await buildDemo();
const samples = await prepareSamples(values.model);
const requests: { path: string; bytes: number; raw: number }[] = [];
const server = await startDemoServer({ samples, modelDir: values.model, onRequest: (path, status, bytes, raw) => status === 200 && requests.push({ path, bytes, raw }), lifetimeMs: 15 * 60_000 });
const KiB = (n: number): string => (n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 / 1024).toFixed(2)} MiB`);

const kinds = (p: string): string => (p.endsWith('.wasm') ? 'wasm' : /\.(m?js)$/.test(p) ? 'js' : p.startsWith('/model/') ? 'model' : p.endsWith('.dqc') ? 'dqc' : 'other');

try {
  for (const provider of values.providers.split(',') as ('wasm' | 'webgpu')[]) {
    requests.length = 0;
    const browser = await chromium.launch({
      executablePath: values.chromium,
      args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--enable-unsafe-webgpu'],
      timeout: 60_000,
    });
    try {
      const page = await browser.newPage();
      page.setDefaultTimeout(300_000);
      const t0 = Date.now();
      await page.goto(`${server.url}?provider=${provider}`);
      await page.evaluate(() => window.dqcDemo.ready);
      const ready = Date.now() - t0;
      // What one decode costs a first visit: the page's requests up to the end of one progressive decode.
      const first = samples[0];
      await page.evaluate(async ([url, p]) => void (await window.dqcDemo.decodeUrl(url, p)), [first.dqc, provider] as const);
      const once = new Map<string, { kind: string; bytes: number; raw: number }>();
      for (const r of requests) if (!once.has(r.path)) once.set(r.path, { kind: kinds(r.path), bytes: r.bytes, raw: r.raw });
      console.log(`${provider.padEnd(6)} first visit + one decode of ${first.name} (${first.width}×${first.height}), ${server.url}?provider=${provider}:`);
      const totals = new Map<string, { bytes: number; raw: number }>();
      for (const [path, r] of once) {
        console.log(`         ${r.kind.padEnd(5)} ${path}: ${KiB(r.raw)} raw, ${KiB(r.bytes)} on the wire`);
        const t = totals.get(r.kind) ?? { bytes: 0, raw: 0 };
        t.bytes += r.bytes;
        t.raw += r.raw;
        totals.set(r.kind, t);
      }
      const sum = (k: 'bytes' | 'raw', kinds: string[]): number => kinds.reduce((a, kind) => a + (totals.get(kind)?.[k] ?? 0), 0);
      const decodeKinds = ['js', 'wasm', 'model', 'dqc'];
      console.log(`         per kind: ${[...totals].map(([k, t]) => `${k} ${KiB(t.raw)} raw / ${KiB(t.bytes)} wire`).join('; ')}`);
      console.log(`         one decode (js + wasm + model + dqc): ${KiB(sum('raw', decodeKinds))} raw, ${KiB(sum('bytes', decodeKinds))} on the wire with gzip`);
      for (const s of samples) {
        const times: number[] = [];
        let info = '';
        for (let i = 0; i < runs; i++) {
          const r = await page.evaluate(async ([url, p]) => {
            const x = await window.dqcDemo.decodeUrl(url, p, { preview: false });
            return { ms: x.ms, timings: x.timings, provider: x.provider, adapter: x.adapter, w: x.width, h: x.height };
          }, [s.dqc, provider] as const);
          times.push(r.ms);
          info = `${r.w}×${r.h} on ${r.provider}${r.adapter ? ` (${r.adapter})` : ''}; last run: entropy ${r.timings.entropy.toFixed(0)} ms, graph ${r.timings.inference.toFixed(0)} ms, pixels ${r.timings.pixels.toFixed(0)} ms`;
        }
        console.log(`${provider.padEnd(6)} ${s.name}: full decode ${times.map((t) => t.toFixed(0)).join(', ')} ms (${info})`);
        const pv = await page.evaluate(async ([url, p]) => (await window.dqcDemo.decodeUrl(url, p)).progress, [s.dqc, provider] as const);
        console.log(`${provider.padEnd(6)} ${s.name}: progressive: ${pv.map((x) => `${x.final ? 'full' : 'preview'} at ${x.ms.toFixed(0)} ms`).join(', ')}`);
      }
      const byKind: Record<string, number> = {};
      for (const r of requests) byKind[kinds(r.path)] = (byKind[kinds(r.path)] ?? 0) + r.bytes;
      console.log(`${provider.padEnd(6)} page ready (model + runtime + session) in ${ready} ms; downloaded: ${Object.entries(byKind).map(([k, v]) => `${k} ${(v / 1024).toFixed(0)} KiB`).join(', ')}`);
      const assets = [...new Set(requests.filter((r) => /\.(m?js|wasm)$/.test(r.path)).map((r) => r.path))];
      for (const a of assets) {
        const res = await fetch(new URL(a, server.url));
        const body = Buffer.from(await res.arrayBuffer());
        const gz = gzipSync(body, { level: 9 }).length;
        const br = brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: body.length } }).length;
        console.log(`         ${a}: ${(body.length / 1024).toFixed(0)} KiB raw, ${(gz / 1024).toFixed(0)} KiB gzip -9, ${(br / 1024).toFixed(0)} KiB brotli`);
      }
    } finally {
      await browser.close();
    }
  }
} finally {
  await server.close();
}
