/**
 * The ConvTranspose → sub-pixel Conv + DepthToSpace rewrite (src/node/graphRewrite.ts) computes
 * the same function as the original graph, on small hand-built graphs and on the shipped decoder.
 */
import { readFileSync } from 'node:fs';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { subpixelConvTranspose } from '../../src/node/graphRewrite.js';
import { defaultModelDir } from '../../src/index.js';

const { onnx } = onnxProto;
const T = onnx.AttributeProto.AttributeType;

function rand(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
}

function floats(name: string, dims: number[], r: () => number): onnxProto.onnx.ITensorProto {
  const data = Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, r);
  return onnx.TensorProto.create({ name, dims, dataType: 1, rawData: new Uint8Array(data.buffer) });
}

interface ConvTOptions {
  ci: number;
  co: number;
  bias?: boolean;
  relu?: boolean;
  kernel?: number;
  stride?: number;
  pad?: number;
}

/** A one-layer graph: X [1, ci, 5, 7] → ConvTranspose (→ Relu) → Y. */
function convTModel(o: ConvTOptions): Uint8Array {
  const r = rand(o.ci * 31 + o.co);
  const k = o.kernel ?? 4, s = o.stride ?? 2, p = o.pad ?? 1;
  const inits = [floats('W', [o.ci, o.co, k, k], r)];
  const inputs = ['X', 'W'];
  if (o.bias) {
    inits.push(floats('B', [o.co], r));
    inputs.push('B');
  }
  const nodes = [
    onnx.NodeProto.create({
      name: 'up',
      opType: 'ConvTranspose',
      input: inputs,
      output: [o.relu ? 'U' : 'Y'],
      attribute: [
        onnx.AttributeProto.create({ name: 'kernel_shape', type: T.INTS, ints: [k, k] }),
        onnx.AttributeProto.create({ name: 'strides', type: T.INTS, ints: [s, s] }),
        onnx.AttributeProto.create({ name: 'pads', type: T.INTS, ints: [p, p, p, p] }),
      ],
    }),
  ];
  if (o.relu) nodes.push(onnx.NodeProto.create({ name: 'act', opType: 'Relu', input: ['U'], output: ['Y'] }));
  const io = (name: string): onnxProto.onnx.IValueInfoProto =>
    onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 1 }, { dimParam: 'c' }, { dimParam: 'h' }, { dimParam: 'w' }] } } } });
  const graph = onnx.GraphProto.create({ name: 'g', node: nodes, initializer: inits, input: [io('X')], output: [io('Y')] });
  return onnx.ModelProto.encode(onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: '', version: 17 }], graph })).finish();
}

async function run(bytes: Uint8Array, feeds: Record<string, ort.Tensor>): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3, intraOpNumThreads: 1 });
  try {
    return (await s.run(feeds))[s.outputNames[0]].data as Float32Array;
  } finally {
    await s.release();
  }
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('ConvTranspose → sub-pixel convolution rewrite', () => {
  const cases: ConvTOptions[] = [
    { ci: 3, co: 2 },
    { ci: 4, co: 5, bias: true },
    { ci: 8, co: 3, bias: true, relu: true },
    { ci: 1, co: 1, relu: true },
  ];
  for (const c of cases) {
    it(`matches the original graph (ci ${c.ci}, co ${c.co}${c.bias ? ', bias' : ''}${c.relu ? ', relu' : ''})`, async () => {
      const model = convTModel(c);
      const out = subpixelConvTranspose(model);
      expect(out.rewritten).toBe(1);
      const x = new ort.Tensor('float32', Float32Array.from({ length: c.ci * 5 * 7 }, rand(9)), [1, c.ci, 5, 7]);
      const [a, b] = [await run(model, { X: x }), await run(out.bytes, { X: x })];
      expect(a.length).toBe(c.co * 10 * 14);
      expect(maxAbsDiff(a, b)).toBeLessThan(1e-5);
    });
  }

  it('leaves other transposed convolutions alone', () => {
    for (const c of [{ ci: 2, co: 2, kernel: 3, pad: 1 }, { ci: 2, co: 2, stride: 1 }, { ci: 2, co: 2, pad: 0 }]) {
      const model = convTModel(c);
      const out = subpixelConvTranspose(model);
      expect(out.rewritten).toBe(0);
      expect(out.bytes).toBe(model);
    }
  });

  it('the shipped DQ-AE decoder (models/dq-ae) gives the same reconstruction', async () => {
    const dir = `${defaultModelDir()}/../dq-ae`;
    const manifest = JSON.parse(readFileSync(`${dir}/manifest.json`, 'utf8')) as { levels: { M: number; K: number; stride: number }[] };
    const bytes = new Uint8Array(readFileSync(`${dir}/decoder.onnx`));
    const out = subpixelConvTranspose(bytes);
    expect(out.rewritten).toBeGreaterThan(0);
    const W = 96, H = 64;
    const r = rand(5);
    const feeds: Record<string, ort.Tensor> = {};
    manifest.levels.forEach((lv, l) => {
      const h = H / lv.stride, w = W / lv.stride;
      feeds[`indices${l}`] = new ort.Tensor('int32', Int32Array.from({ length: lv.M * h * w }, () => Math.floor(((r() + 1) / 2) * lv.K)), [1, lv.M, h, w]);
    });
    feeds.levelMask = new ort.Tensor('float32', new Float32Array(manifest.levels.length).fill(1), [manifest.levels.length]);
    const [a, b] = [await run(bytes, feeds), await run(out.bytes, feeds)];
    expect(a.length).toBe(3 * W * H);
    // Float rounding only: far below one 8-bit step (1/255 ≈ 4e-3).
    expect(maxAbsDiff(a, b)).toBeLessThan(1e-5);
  });
});
