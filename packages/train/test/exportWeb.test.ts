/**
 * decoder.onnx in onnxruntime-web (WASM EP, run in Node) gives what onnxruntime-node gives.
 * The browser loads only this graph (packages/web), so this is the graph that must stay within
 * what the web runtime supports.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { parseModelConfig } from '../src/model/config.js';
import { exportModel, onnxNames } from '../src/export/exportModel.js';
import { randomWeights, seededNormal } from '../src/export/randomWeights.js';

const work = mkdtempSync(join(tmpdir(), 'dqc-export-web-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// In Node, onnxruntime-web loads its .wasm from the file system; one thread, no worker pool.
const require = createRequire(import.meta.url);
ortWeb.env.wasm.numThreads = 1;
ortWeb.env.wasm.wasmPaths = `${dirname(require.resolve('onnxruntime-web'))}/`;

describe('decoder.onnx on onnxruntime-web (WASM)', () => {
  it('matches onnxruntime-node, all levels and previews', async () => {
    const cfg = parseModelConfig({
      name: 'web',
      levels: [{ stride: 4, M: 4, K: 32, D: 4 }, { stride: 8, M: 2, K: 64, D: 8 }, { stride: 16, M: 1, K: 64, D: 8 }],
      channels: 16,
      resBlocks: 1,
      resHidden: 8,
    });
    const dir = join(work, 'web');
    await exportModel(cfg, randomWeights(cfg, 21, { gain: 1.3 }), dir);
    const bytes = readFileSync(join(dir, 'decoder.onnx'));
    const web = await ortWeb.InferenceSession.create(new Uint8Array(bytes), { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
    const node = await ortNode.InferenceSession.create(join(dir, 'decoder.onnx'), {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      intraOpNumThreads: 1,
    });
    expect(web.inputNames).toEqual([...cfg.levels.map((_, l) => onnxNames.indices(l)), onnxNames.levelMask]);
    expect(web.outputNames).toEqual([onnxNames.reconstruction]);

    const [N, H, W] = [2, 48, 80];
    const normal = seededNormal(5);
    const L = cfg.levels.length;
    let worst = 0;
    for (const mask of [[1, 1, 1], [0, 1, 1], [0, 0, 1]]) {
      const webFeeds: Record<string, ortWeb.Tensor> = {};
      const nodeFeeds: Record<string, ortNode.Tensor> = {};
      cfg.levels.forEach((lv, l) => {
        const dims = [N, lv.M, H / lv.stride, W / lv.stride];
        const idx = Int32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => Math.floor(Math.abs(normal()) * 1e6) % lv.K);
        webFeeds[onnxNames.indices(l)] = new ortWeb.Tensor('int32', idx, dims);
        nodeFeeds[onnxNames.indices(l)] = new ortNode.Tensor('int32', idx, dims);
      });
      webFeeds[onnxNames.levelMask] = new ortWeb.Tensor('float32', Float32Array.from(mask), [L]);
      nodeFeeds[onnxNames.levelMask] = new ortNode.Tensor('float32', Float32Array.from(mask), [L]);
      const a = (await web.run(webFeeds))[onnxNames.reconstruction];
      const b = (await node.run(nodeFeeds))[onnxNames.reconstruction];
      expect(a.dims).toEqual([N, 3, H, W]);
      expect(b.dims).toEqual([N, 3, H, W]);
      const da = a.data as Float32Array;
      const db = b.data as Float32Array;
      let d = 0;
      for (let i = 0; i < da.length; i++) d = Math.max(d, Math.abs(da[i] - db[i]));
      worst = Math.max(worst, d);
    }
    console.log(`[export web] onnxruntime-web WASM vs onnxruntime-node decoder max|Δ| ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(1e-4);
    await web.release();
    await node.release();
  });
});
