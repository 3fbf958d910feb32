/**
 * Translation of IR graphs (model/architecture.ts, NHWC, tfjs weight layouts) into ONNX nodes
 * (NCHW, ONNX weight layouts), and assembly of ONNX ModelProtos with onnx-proto's classes.
 *
 * Layouts:
 *   conv   tfjs [k, k, in, out]  → ONNX Conv W          [out, in, k, k]
 *   convT  tfjs [k, k, out, in]  → ONNX ConvTranspose W [in, out, k, k]
 * Padding: the IR only has explicit symmetric pads (conv k=4 s=2 p=1, convT k=4 s=2 p=1, 3×3 p=1,
 * 1×1 p=0), which map 1:1 onto ONNX `pads` [p, p, p, p] with auto_pad NOTSET. For ConvTranspose,
 * ONNX's output size is s·(in−1) + output_padding + k − pad_begin − pad_end = 2·in for k=4 s=2
 * p=1, exactly tfjs' conv2dTranspose with pad 1 and outShape 2·in (tfjs/conv.ts
 * convTransposeShape), so no output_padding/output_shape is needed. Neither runtime flips the
 * kernel: both define the transposed conv as the adjoint of Conv with the same weights.
 */
import onnxProto from 'onnx-proto';
import type { Graph, Op } from '../model/architecture.js';

export const { onnx } = onnxProto;
type onnxNs = typeof onnxProto.onnx;
export type NodeProto = InstanceType<onnxNs['NodeProto']>;
export type TensorProto = InstanceType<onnxNs['TensorProto']>;
export type ValueInfoProto = InstanceType<onnxNs['ValueInfoProto']>;

export const OPSET_VERSION = 17;
export const IR_VERSION = 8;

/** Every export failure is an ExportError with a message that names the culprit. */
export class ExportError extends Error {
  override name = 'ExportError';
}

/** A trained tensor: tfjs layout, row-major float32. */
export interface WeightTensor {
  shape: number[];
  data: Float32Array;
}
export type Weights = Map<string, WeightTensor>;

export type ElemType = 'float32' | 'int32' | 'int64';
const ELEM: Record<ElemType, number> = { float32: 1, int32: 6, int64: 7 };

/** A graph input/output: dims are numbers (static) or strings (symbolic dim_param). */
export interface IoSpec {
  name: string;
  type: ElemType;
  shape: (number | string)[];
}

function shapeStr(s: readonly number[]): string {
  return `[${s.join(', ')}]`;
}

/** Looks up a weight and checks it against the shape the architecture needs. */
export function getWeight(weights: Weights, name: string, shape: readonly number[]): Float32Array {
  const w = weights.get(name);
  if (!w) throw new ExportError(`missing weight "${name}" (the architecture needs shape ${shapeStr(shape)})`);
  if (!Array.isArray(w.shape) || w.shape.length !== shape.length || w.shape.some((d, i) => d !== shape[i])) {
    throw new ExportError(`weight "${name}" has shape ${shapeStr(w.shape ?? [])} but the architecture needs ${shapeStr(shape)}`);
  }
  const n = shape.reduce((a, b) => a * b, 1);
  if (!(w.data instanceof Float32Array) || w.data.length !== n) {
    throw new ExportError(`weight "${name}" must hold a Float32Array of ${n} values for shape ${shapeStr(shape)} (got ${w.data?.length ?? 'none'})`);
  }
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(w.data[i])) throw new ExportError(`weight "${name}" holds a non-finite value (${w.data[i]}) at flat index ${i}`);
  }
  return w.data;
}

/** Permutes a row-major 4-D array: out[i0,i1,i2,i3] = x[idx] with out dim j = in dim perm[j]. */
export function permute4(x: Float32Array, shape: readonly number[], perm: readonly number[]): { data: Float32Array; shape: number[] } {
  const outShape = perm.map((p) => shape[p]);
  const inStrides = [shape[1] * shape[2] * shape[3], shape[2] * shape[3], shape[3], 1];
  const s = perm.map((p) => inStrides[p]);
  const out = new Float32Array(x.length);
  let o = 0;
  for (let a = 0; a < outShape[0]; a++) {
    for (let b = 0; b < outShape[1]; b++) {
      for (let c = 0; c < outShape[2]; c++) {
        const base = a * s[0] + b * s[1] + c * s[2];
        for (let d = 0; d < outShape[3]; d++) out[o++] = x[base + d * s[3]];
      }
    }
  }
  return { data: out, shape: outShape };
}

function float32Bytes(data: Float32Array): Uint8Array {
  // Explicit little-endian, as ONNX raw_data requires, whatever the host.
  const out = new Uint8Array(data.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i], true);
  return out;
}

function int32Bytes(data: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(data.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) view.setInt32(i * 4, data[i], true);
  return out;
}

function int64Bytes(data: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(data.length * 8);
  const view = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) view.setBigInt64(i * 8, BigInt(data[i]), true);
  return out;
}

type AttrValue = number | number[] | { float: number } | string;

function attribute(name: string, v: AttrValue): InstanceType<onnxNs['AttributeProto']> {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new ExportError(`attribute ${name}: ${v} is not an integer (use { float })`);
    return onnx.AttributeProto.create({ name, type: T.INT, i: v });
  }
  if (typeof v === 'string') return onnx.AttributeProto.create({ name, type: T.STRING, s: new TextEncoder().encode(v) });
  if (Array.isArray(v)) return onnx.AttributeProto.create({ name, type: T.INTS, ints: v });
  return onnx.AttributeProto.create({ name, type: T.FLOAT, f: v.float });
}

/**
 * Accumulates nodes and initializers of one ONNX graph. Node and initializer order is the
 * order of the calls, so the same calls always encode to the same bytes.
 */
export class OnnxGraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  private readonly names = new Set<string>();
  private count = 0;

  constructor(private readonly weights: Weights) {}

  /** A fresh tensor name with a readable prefix. */
  fresh(prefix: string): string {
    let name: string;
    do name = `${prefix}:${this.count++}`;
    while (this.names.has(name));
    this.names.add(name);
    return name;
  }

  node(opType: string, inputs: string[], outputs: string[], attrs: Record<string, AttrValue> = {}): void {
    for (const o of outputs) this.names.add(o);
    const attribute_ = Object.keys(attrs)
      .sort()
      .map((k) => attribute(k, attrs[k]));
    this.nodes.push(onnx.NodeProto.create({ opType, input: inputs, output: outputs, name: `${opType}:${this.nodes.length}`, attribute: attribute_ }));
  }

  /** Adds one node with a fresh output name and returns that name. */
  op(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, output?: string): string {
    const out = output ?? this.fresh(opType);
    this.node(opType, inputs, [out], attrs);
    return out;
  }

  private initializer(name: string, dims: number[], dataType: number, rawData: Uint8Array): string {
    if (this.names.has(name)) throw new ExportError(`duplicate tensor name "${name}"`);
    this.names.add(name);
    this.initializers.push(onnx.TensorProto.create({ name, dims, dataType, rawData }));
    return name;
  }

  constFloat(name: string, dims: number[], data: Float32Array | number[]): string {
    return this.initializer(name, dims, ELEM.float32, float32Bytes(data instanceof Float32Array ? data : Float32Array.from(data)));
  }

  constInt32(name: string, dims: number[], data: number[]): string {
    return this.initializer(name, dims, ELEM.int32, int32Bytes(data));
  }

  constInt64(name: string, dims: number[], data: number[]): string {
    return this.initializer(name, dims, ELEM.int64, int64Bytes(data));
  }

  /** A trained weight, checked against `tfShape` and permuted into the ONNX layout. */
  weight(name: string, tfShape: number[], perm?: number[]): string {
    const data = getWeight(this.weights, name, tfShape);
    if (!perm) return this.constFloat(name, tfShape, data);
    const p = permute4(data, tfShape, perm);
    return this.constFloat(name, p.shape, p.data);
  }

  /**
   * Appends the nodes of an IR graph. `rename` maps IR tensor names (inputs, intermediate values
   * or outputs) to the ONNX names to use instead; all other names are used as they are. Returns
   * the ONNX name of every IR graph output.
   */
  addIrGraph(graph: Graph, rename: Record<string, string> = {}): Record<string, string> {
    const n = (s: string): string => rename[s] ?? s;
    for (const op of graph.ops as Op[]) {
      switch (op.kind) {
        case 'conv': {
          const w = this.weight(`${op.name}.w`, [op.k, op.k, op.inCh, op.outCh], [3, 2, 0, 1]);
          const b = this.weight(`${op.name}.b`, [op.outCh]);
          this.node('Conv', [n(op.input), w, b], [n(op.output)], {
            kernel_shape: [op.k, op.k],
            strides: [op.stride, op.stride],
            pads: [op.pad, op.pad, op.pad, op.pad],
          });
          break;
        }
        case 'convT': {
          const w = this.weight(`${op.name}.w`, [op.k, op.k, op.outCh, op.inCh], [3, 2, 0, 1]);
          const b = this.weight(`${op.name}.b`, [op.outCh]);
          this.node('ConvTranspose', [n(op.input), w, b], [n(op.output)], {
            kernel_shape: [op.k, op.k],
            strides: [op.stride, op.stride],
            pads: [op.pad, op.pad, op.pad, op.pad],
          });
          break;
        }
        case 'relu':
          this.node('Relu', [n(op.input)], [n(op.output)]);
          break;
        case 'add':
          this.node('Add', [n(op.inputs[0]), n(op.inputs[1])], [n(op.output)]);
          break;
        case 'concat':
          this.node('Concat', op.inputs.map(n), [n(op.output)], { axis: 1 });
          break;
        case 'affine': {
          let x = n(op.input);
          const out = n(op.output);
          if (op.scale === 1 && op.shift === 0) {
            this.node('Identity', [x], [out]);
            break;
          }
          if (op.scale !== 1) {
            const s = this.constFloat(`${out}.scale`, [], [op.scale]);
            x = op.shift === 0 ? this.op('Mul', [x, s], {}, out) : this.op('Mul', [x, s]);
          }
          if (op.shift !== 0) this.node('Add', [x, this.constFloat(`${out}.shift`, [], [op.shift])], [out]);
          break;
        }
        default: {
          const bad = op as { kind?: unknown };
          throw new ExportError(`graph ${graph.name}: unknown op kind ${JSON.stringify(bad.kind)} cannot be exported to ONNX (op ${JSON.stringify(op)})`);
        }
      }
    }
    return Object.fromEntries(graph.outputs.map((o) => [o.name, n(o.name)]));
  }

  /** Builds and encodes the ModelProto. */
  encode(opts: { name: string; doc: string; inputs: IoSpec[]; outputs: IoSpec[]; metadata?: Record<string, string> }): Uint8Array {
    const valueInfo = (s: IoSpec): ValueInfoProto =>
      onnx.ValueInfoProto.create({
        name: s.name,
        type: onnx.TypeProto.create({
          tensorType: onnx.TypeProto.Tensor.create({
            elemType: ELEM[s.type],
            shape: onnx.TensorShapeProto.create({
              dim: s.shape.map((d) => onnx.TensorShapeProto.Dimension.create(typeof d === 'number' ? { dimValue: d } : { dimParam: d })),
            }),
          }),
        }),
      });
    const graph = onnx.GraphProto.create({
      name: opts.name,
      node: this.nodes,
      initializer: this.initializers,
      input: opts.inputs.map(valueInfo),
      output: opts.outputs.map(valueInfo),
      docString: opts.doc,
    });
    const model = onnx.ModelProto.create({
      irVersion: IR_VERSION,
      opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: OPSET_VERSION })],
      producerName: 'dqcodec',
      producerVersion: '1',
      domain: 'dqcodec',
      modelVersion: 1,
      docString: opts.doc,
      graph,
      metadataProps: Object.entries(opts.metadata ?? {}).map(([key, value]) => onnx.StringStringEntryProto.create({ key, value })),
    });
    return onnx.ModelProto.encode(model).finish();
  }
}
