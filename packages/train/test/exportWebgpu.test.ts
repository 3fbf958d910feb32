/**
 * decoder.onnx on onnxruntime-web's WebGPU EP in a real (headless) Chromium: every node must be
 * placed on WebGPU (no CPU fallback: int32 indices, no Shape/int64 arithmetic at run time) and the
 * result must match onnxruntime-node. Headless Chromium with --enable-unsafe-webgpu exposes a
 * SwiftShader adapter here. Skipped where /usr/bin/chromium (or $CHROMIUM) is absent.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, normalize } from 'node:path';
import * as ort from 'onnxruntime-node';
import { parseModelConfig } from '../src/model/config.js';
import { exportModel, onnxNames } from '../src/export/exportModel.js';
import { randomWeights, seededNormal } from '../src/export/randomWeights.js';

const chromium = process.env.CHROMIUM ?? '/usr/bin/chromium';
const work = mkdtempSync(join(tmpdir(), 'dqc-export-webgpu-'));
const ortDist = dirname(createRequire(import.meta.url).resolve('onnxruntime-web'));
let server: Server | null = null;
let browser: ChildProcess | null = null;

afterAll(() => {
  if (browser?.pid && browser.exitCode === null) {
    try {
      process.kill(-browser.pid, 'SIGKILL'); // the browser's own process group (spawned detached)
    } catch {
      /* already gone */
    }
  }
  server?.close();
  rmSync(work, { recursive: true, force: true });
});

const PAGE = `<!doctype html><html><body><script type="module">
import * as ort from '/ort/ort.webgpu.min.mjs';
const logs = [];
for (const k of ['log', 'info', 'warn', 'error']) {
  const orig = console[k].bind(console);
  console[k] = (...a) => { const s = a.join(' '); if (/placed on|not assigned|Node placements/.test(s)) logs.push(s); orig(...a); };
}
const post = (o) => fetch('/result', { method: 'POST', body: JSON.stringify(o) });
try {
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.wasmPaths = '/ort/';
  const adapter = navigator.gpu ? await navigator.gpu.requestAdapter() : null;
  if (!adapter) throw new Error('no WebGPU adapter');
  const c = await (await fetch('/case.json')).json();
  const model = new Uint8Array(await (await fetch('/decoder.onnx')).arrayBuffer());
  const sess = await ort.InferenceSession.create(model, { executionProviders: ['webgpu'], graphOptimizationLevel: 'all', logSeverityLevel: 0, logVerbosityLevel: 0 });
  const outputs = [];
  for (const mask of c.masks) {
    const feeds = {};
    for (const [k, v] of Object.entries(c.indices)) feeds[k] = new ort.Tensor('int32', Int32Array.from(v.data), v.dims);
    feeds.levelMask = new ort.Tensor('float32', Float32Array.from(mask), [mask.length]);
    const out = (await sess.run(feeds)).reconstruction;
    outputs.push({ dims: out.dims, data: Array.from(out.data) });
  }
  await post({ ok: true, outputs, logs });
} catch (e) { await post({ ok: false, error: String((e && e.stack) || e), logs }); }
</script></body></html>`;

interface PageResult {
  ok: boolean;
  error?: string;
  logs: string[];
  outputs: { dims: number[]; data: number[] }[];
}

/** Serves the page, onnxruntime-web's dist, the model and the case; resolves with what the page posts. */
function serve(files: Record<string, Buffer | string>): Promise<{ port: number; result: Promise<PageResult> }> {
  let deliver!: (r: PageResult) => void;
  const result = new Promise<PageResult>((res) => (deliver = res));
  const types: Record<string, string> = { mjs: 'text/javascript', wasm: 'application/wasm', html: 'text/html', json: 'application/json' };
  server = createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (req.method === 'POST' && url === '/result') {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        res.end('ok');
        deliver(JSON.parse(body) as PageResult);
      });
      return;
    }
    let data: Buffer | string | undefined = files[url];
    if (data === undefined && url.startsWith('/ort/')) {
      const p = normalize(join(ortDist, url.slice('/ort/'.length)));
      if (p.startsWith(ortDist) && existsSync(p)) data = readFileSync(p);
    }
    if (data === undefined) {
      res.statusCode = 404;
      res.end();
      return;
    }
    res.setHeader('content-type', types[url.split('.').pop() ?? ''] ?? 'application/octet-stream');
    res.end(data);
  });
  return new Promise((res) => server!.listen(0, '127.0.0.1', () => res({ port: (server!.address() as AddressInfo).port, result })));
}

describe.skipIf(!existsSync(chromium))('decoder.onnx on onnxruntime-web (WebGPU, headless Chromium)', () => {
  it('runs entirely on the WebGPU EP and matches onnxruntime-node', async () => {
    const cfg = parseModelConfig({
      name: 'webgpu',
      levels: [{ stride: 4, M: 4, K: 32, D: 4 }, { stride: 8, M: 2, K: 64, D: 8 }, { stride: 16, M: 1, K: 64, D: 8 }],
      channels: 16,
      resBlocks: 1,
      resHidden: 8,
    });
    const dir = join(work, 'model');
    await exportModel(cfg, randomWeights(cfg, 33, { gain: 1.3 }), dir);
    const [N, H, W] = [1, 48, 80];
    const normal = seededNormal(8);
    const indices: Record<string, { dims: number[]; data: number[] }> = {};
    cfg.levels.forEach((lv, l) => {
      const dims = [N, lv.M, H / lv.stride, W / lv.stride];
      const data = Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => Math.floor(Math.abs(normal()) * 1e6) % lv.K);
      indices[onnxNames.indices(l)] = { dims, data };
    });
    const masks = [[1, 1, 1], [0, 1, 1], [0, 0, 1]];

    const { port, result } = await serve({
      '/page.html': PAGE,
      '/decoder.onnx': readFileSync(join(dir, 'decoder.onnx')),
      '/case.json': JSON.stringify({ indices, masks }),
    });
    browser = spawn(
      chromium,
      [
        '--headless=new',
        '--no-sandbox',
        '--disable-background-networking',
        '--disable-component-update',
        '--enable-unsafe-webgpu',
        '--disable-crash-reporter',
        '--disable-breakpad',
        '--no-first-run',
        `--user-data-dir=${join(work, 'profile')}`,
        `http://127.0.0.1:${port}/page.html`,
      ],
      { detached: true, stdio: 'ignore' },
    );
    const exited = new Promise<PageResult>((_, reject) => browser!.once('exit', (code) => reject(new Error(`chromium exited (${code}) before the page reported`))));
    const timeout = new Promise<PageResult>((_, reject) => setTimeout(() => reject(new Error('no result from the page within 60 s')), 60_000).unref());
    const r = await Promise.race([result, exited, timeout]);
    expect(r.error ?? '').toBe('');
    expect(r.logs.join('\n')).toMatch(/All nodes placed on \[WebGpuExecutionProvider\]/);

    const node = await ort.InferenceSession.create(join(dir, 'decoder.onnx'), { executionProviders: ['cpu'], graphOptimizationLevel: 'all', intraOpNumThreads: 1 });
    let worst = 0;
    for (let i = 0; i < masks.length; i++) {
      const feeds: Record<string, ort.Tensor> = {};
      for (const [k, v] of Object.entries(indices)) feeds[k] = new ort.Tensor('int32', Int32Array.from(v.data), v.dims);
      feeds[onnxNames.levelMask] = new ort.Tensor('float32', Float32Array.from(masks[i]), [masks[i].length]);
      const want = (await node.run(feeds))[onnxNames.reconstruction];
      expect(r.outputs[i].dims).toEqual(want.dims);
      const a = r.outputs[i].data;
      const b = want.data as Float32Array;
      for (let j = 0; j < b.length; j++) worst = Math.max(worst, Math.abs(a[j] - b[j]));
    }
    console.log(`[export webgpu] ${r.logs.join(' ').match(/All nodes placed on \[\w+\]\. Number of nodes: \d+/)?.[0]}; WebGPU vs onnxruntime-node decoder max|Δ| ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(1e-4);
    await node.release();
  });
});
