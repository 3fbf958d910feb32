/**
 * Load-time graph rewrite for onnxruntime's CPU execution provider: every 2× up-sampling
 * ConvTranspose (kernel 4, stride 2, pad 1, the only kind the exporter writes) becomes the
 * equivalent sub-pixel convolution, a 3×3 Conv with 4× the output channels followed by
 * DepthToSpace(2).
 *
 * Why: onnxruntime's CPU ConvTranspose is a GEMM into a column buffer of Cout·16 × H·W floats
 * (hundreds of MB per tile for the decoder's last layers), then col2im. Page-faulting that buffer
 * in on every run cost more than the arithmetic, and it set the decoder's peak memory. A Conv
 * runs on onnxruntime's blocked (NCHWc) kernels, fuses with a following Relu, and needs no
 * buffer. The model files, and so their SHA-256 fingerprints, are untouched: only the bytes
 * handed to onnxruntime change, and the outputs agree to float rounding (~1e-7).
 *
 * Node only: in the browser, onnxruntime-web's ConvTranspose is the faster form (the sub-pixel
 * graph measured 1.6× slower on WASM, 2× on WebGPU; BENCHMARKS.md, Browser decoding).
 *
 * The algebra. ONNX ConvTranspose with stride 2 and pad 1 writes input pixel iy to output rows
 * oy = 2·iy + ky − 1. Output row oy = 2Y + r (phase r ∈ {0, 1}) therefore reads input row
 * iy = Y + dy with ky = r + 1 − 2·dy, and dy ∈ {−1, 0, 1} is tap a = dy + 1 of a 3×3 kernel:
 * ky = r + 3 − 2a, a tap that falls outside [0, 4) is a zero weight. Likewise for columns. So
 *   W'[(r·2 + c)·Cout + co, ci, a, b] = W[ci, co, r + 3 − 2a, c + 3 − 2b]   (0 outside the kernel)
 * and DepthToSpace in DCR mode puts channel (r·2 + c)·Cout + co at (2Y + r, 2X + c).
 */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
// Decoded messages are typed by their interfaces, whose fields are all optional.
type ModelProto = onnxProto.onnx.IModelProto;
type GraphProto = onnxProto.onnx.IGraphProto;
type NodeProto = onnxProto.onnx.INodeProto;
type TensorProto = onnxProto.onnx.ITensorProto;
type AttributeProto = onnxProto.onnx.IAttributeProto;
type IntLike = number | { toNumber(): number };

const inputsOf = (n: NodeProto): string[] => n.input ?? [];
const outputsOf = (n: NodeProto): string[] => n.output ?? [];

const FLOAT = 1;
const ATTR = onnx.AttributeProto.AttributeType;

export interface RewriteResult {
  /** The graph to hand to onnxruntime (the input itself when nothing was rewritten). */
  bytes: Uint8Array;
  /** ConvTranspose nodes replaced. */
  rewritten: number;
}

/** Rewrite every eligible ConvTranspose of an ONNX model (bytes) into Conv + DepthToSpace. */
export function subpixelConvTranspose(bytes: Uint8Array): RewriteResult {
  const model = onnx.ModelProto.decode(bytes);
  const graph = model.graph;
  if (!graph || defaultOpset(model) < 11) return { bytes, rewritten: 0 }; // DepthToSpace mode needs opset 11
  const inits = new Map((graph.initializer ?? []).map((t) => [t.name ?? '', t]));
  const names = new UniqueNames(graph);
  const nodes: NodeProto[] = [];
  const depthToSpace = new Set<NodeProto>();
  let rewritten = 0;
  for (const node of graph.node ?? []) {
    const weight = node.opType === 'ConvTranspose' ? eligibleWeight(node, inits) : null;
    if (!weight) {
      nodes.push(node);
      continue;
    }
    const biasName = inputsOf(node)[2] ?? '';
    const bias = biasName !== '' ? inits.get(biasName) : undefined;
    if (biasName !== '' && !(bias && isFloat(bias, 1))) {
      nodes.push(node);
      continue;
    }
    const [conv, d2s] = subpixelNodes(node, weight, bias, graph, names);
    nodes.push(conv, d2s);
    depthToSpace.add(d2s);
    rewritten++;
  }
  if (rewritten === 0) return { bytes, rewritten };
  graph.node = fuseRelus(nodes, depthToSpace, graph, names);
  dropUnusedInitializers(graph);
  return { bytes: onnx.ModelProto.encode(model).finish(), rewritten };
}

function defaultOpset(model: ModelProto): number {
  const op = (model.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx');
  return op ? toInt(op.version ?? 0) : 0;
}

function toInt(v: IntLike | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}

function attr(node: NodeProto, name: string): AttributeProto | undefined {
  return (node.attribute ?? []).find((a) => a.name === name);
}

function ints(node: NodeProto, name: string): number[] | undefined {
  const a = attr(node, name);
  return a ? (a.ints ?? []).map(toInt) : undefined;
}

const same = (a: number[] | undefined, b: number[]): boolean => a !== undefined && a.length === b.length && a.every((v, i) => v === b[i]);

/** The weight initializer when `node` is a plain k4 s2 p1 ConvTranspose (group 1, no output size tricks), else null. */
function eligibleWeight(node: NodeProto, inits: Map<string, TensorProto>): TensorProto | null {
  const autoPad = attr(node, 'auto_pad');
  const group = attr(node, 'group');
  const outPad = ints(node, 'output_padding');
  const dil = ints(node, 'dilations');
  const ok =
    same(ints(node, 'kernel_shape') ?? shapeOf(inits.get(inputsOf(node)[1] ?? ''))?.slice(2), [4, 4]) &&
    same(ints(node, 'strides'), [2, 2]) &&
    same(ints(node, 'pads'), [1, 1, 1, 1]) &&
    (!autoPad || new TextDecoder().decode(autoPad.s ?? new Uint8Array(0)) === 'NOTSET') &&
    (!group || toInt(group.i) === 1) &&
    (!outPad || outPad.every((v) => v === 0)) &&
    (!dil || dil.every((v) => v === 1)) &&
    !attr(node, 'output_shape');
  const w = inits.get(inputsOf(node)[1] ?? '');
  return ok && w && isFloat(w, 4) && same(shapeOf(w)?.slice(2), [4, 4]) ? w : null;
}

function shapeOf(t: TensorProto | undefined): number[] | undefined {
  return t?.dims?.map(toInt);
}

function isFloat(t: TensorProto, rank: number): boolean {
  const dims = shapeOf(t) ?? [];
  return t.dataType === FLOAT && dims.length === rank && !t.dataLocation && floatsOf(t).length === dims.reduce((a, b) => a * b, 1);
}

function floatsOf(t: TensorProto): Float32Array {
  if (t.floatData && t.floatData.length > 0) return Float32Array.from(t.floatData);
  const raw = t.rawData ?? new Uint8Array(0);
  // rawData is little-endian; copy to get an aligned buffer whatever its offset.
  const out = new Float32Array(Math.floor(raw.length / 4));
  new Uint8Array(out.buffer).set(raw.subarray(0, out.length * 4));
  return out;
}

function floatTensor(name: string, dims: number[], data: Float32Array): TensorProto {
  return onnx.TensorProto.create({ name, dims, dataType: FLOAT, rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) });
}

/** W [Ci, Co, 4, 4] of the transposed conv → W' [4·Co, Ci, 3, 3] of the sub-pixel conv (see the header). */
export function subpixelWeight(w: Float32Array, ci: number, co: number): Float32Array {
  const out = new Float32Array(4 * co * ci * 9);
  for (let r = 0; r < 2; r++) {
    for (let c = 0; c < 2; c++) {
      for (let o = 0; o < co; o++) {
        const oc = (r * 2 + c) * co + o;
        for (let i = 0; i < ci; i++) {
          for (let a = 0; a < 3; a++) {
            const ky = r + 3 - 2 * a;
            if (ky < 0 || ky > 3) continue;
            for (let b = 0; b < 3; b++) {
              const kx = c + 3 - 2 * b;
              if (kx < 0 || kx > 3) continue;
              out[((oc * ci + i) * 3 + a) * 3 + b] = w[((i * co + o) * 4 + ky) * 4 + kx];
            }
          }
        }
      }
    }
  }
  return out;
}

function subpixelNodes(node: NodeProto, weight: TensorProto, bias: TensorProto | undefined, graph: GraphProto, names: UniqueNames): [NodeProto, NodeProto] {
  const [ci, co] = shapeOf(weight) ?? [];
  const out = outputsOf(node)[0];
  const base = node.name || out;
  const wName = names.fresh(`${weight.name}/subpixel`);
  const inits = (graph.initializer ??= []);
  inits.push(floatTensor(wName, [4 * co, ci, 3, 3], subpixelWeight(floatsOf(weight), ci, co)));
  const inputs = [inputsOf(node)[0], wName];
  if (bias) {
    const b = floatsOf(bias);
    const b4 = new Float32Array(4 * co);
    for (let p = 0; p < 4; p++) b4.set(b, p * co);
    const bName = names.fresh(`${bias.name}/subpixel`);
    inits.push(floatTensor(bName, [4 * co], b4));
    inputs.push(bName);
  }
  const phases = names.fresh(`${out}/phases`);
  return [
    onnx.NodeProto.create({
      name: names.fresh(`${base}/subpixel_conv`),
      opType: 'Conv',
      input: inputs,
      output: [phases],
      attribute: [
        onnx.AttributeProto.create({ name: 'kernel_shape', type: ATTR.INTS, ints: [3, 3] }),
        onnx.AttributeProto.create({ name: 'pads', type: ATTR.INTS, ints: [1, 1, 1, 1] }),
      ],
    }),
    onnx.NodeProto.create({
      name: names.fresh(`${base}/depth_to_space`),
      opType: 'DepthToSpace',
      input: [phases],
      output: [out],
      attribute: [
        onnx.AttributeProto.create({ name: 'blocksize', type: ATTR.INT, i: 2 }),
        onnx.AttributeProto.create({ name: 'mode', type: ATTR.STRING, s: new TextEncoder().encode('DCR') }),
      ],
    }),
  ];
}

/**
 * DepthToSpace → Relu, where the Relu is the only consumer, becomes Relu → DepthToSpace (a Relu
 * commutes with a permutation of elements), so onnxruntime fuses the Relu into the Conv instead of
 * running it over the 4× larger output.
 */
function fuseRelus(nodes: NodeProto[], depthToSpace: Set<NodeProto>, graph: GraphProto, names: UniqueNames): NodeProto[] {
  const outputs = new Set((graph.output ?? []).map((o) => o.name));
  const consumers = new Map<string, NodeProto[]>();
  for (const n of nodes) for (const i of inputsOf(n)) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  const moved = new Set<NodeProto>();
  const out: NodeProto[] = [];
  for (const n of nodes) {
    if (moved.has(n)) continue;
    const out0 = outputsOf(n)[0];
    const next = consumers.get(out0);
    if (depthToSpace.has(n) && next?.length === 1 && next[0].opType === 'Relu' && !outputs.has(out0)) {
      const relu = next[0];
      const finalName = outputsOf(relu)[0];
      const phases = inputsOf(n)[0];
      const activated = names.fresh(`${phases}/relu`);
      relu.input = [phases];
      relu.output = [activated];
      n.input = [activated];
      n.output = [finalName];
      moved.add(relu);
      out.push(relu, n);
      continue;
    }
    out.push(n);
  }
  return out;
}

function dropUnusedInitializers(graph: GraphProto): void {
  const used = new Set<string>();
  for (const n of graph.node ?? []) for (const i of inputsOf(n)) used.add(i);
  for (const o of graph.output ?? []) used.add(o.name ?? '');
  graph.initializer = (graph.initializer ?? []).filter((t) => used.has(t.name ?? ''));
}

/** Tensor and node names not yet used in the graph. */
class UniqueNames {
  private readonly taken = new Set<string>();

  constructor(graph: GraphProto) {
    for (const t of graph.initializer ?? []) this.taken.add(t.name ?? '');
    for (const v of [...(graph.input ?? []), ...(graph.output ?? []), ...(graph.valueInfo ?? [])]) this.taken.add(v.name ?? '');
    for (const n of graph.node ?? []) {
      this.taken.add(n.name ?? '');
      for (const o of outputsOf(n)) this.taken.add(o);
    }
  }

  fresh(want: string): string {
    let name = want;
    for (let k = 1; this.taken.has(name); k++) name = `${want}_${k}`;
    this.taken.add(name);
    return name;
  }
}
