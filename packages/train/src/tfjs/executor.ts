/**
 * Runs an IR graph (model/architecture.ts) with tfjs ops, NHWC.
 * Callers own memory management: wrap calls in tf.tidy.
 */
import * as tf from './tf.js';
import type { Graph } from '../model/architecture.js';
import { conv2d, conv2dTranspose } from './conv.js';

export type ParamLookup = (name: string) => tf.Tensor;

export function runGraph(graph: Graph, param: ParamLookup, inputs: Record<string, tf.Tensor4D>): Record<string, tf.Tensor4D> {
  const values = new Map<string, tf.Tensor4D>();
  for (const spec of graph.inputs) {
    const t = inputs[spec.name];
    if (!t) throw new Error(`graph ${graph.name}: missing input ${spec.name}`);
    values.set(spec.name, t);
  }
  const get = (name: string): tf.Tensor4D => {
    const t = values.get(name);
    if (!t) throw new Error(`graph ${graph.name}: tensor ${name} used before it is produced`);
    return t;
  };
  for (const op of graph.ops) {
    switch (op.kind) {
      case 'conv':
        values.set(op.output, conv2d(get(op.input), param(`${op.name}.w`) as tf.Tensor4D, param(`${op.name}.b`) as tf.Tensor1D, op.stride, op.pad));
        break;
      case 'convT':
        values.set(op.output, conv2dTranspose(get(op.input), param(`${op.name}.w`) as tf.Tensor4D, param(`${op.name}.b`) as tf.Tensor1D, op.stride, op.pad));
        break;
      case 'relu':
        values.set(op.output, tf.relu(get(op.input)));
        break;
      case 'add':
        values.set(op.output, tf.add(get(op.inputs[0]), get(op.inputs[1])));
        break;
      case 'concat':
        values.set(op.output, tf.concat(op.inputs.map(get), 3));
        break;
      case 'affine':
        values.set(op.output, tf.add(tf.mul(get(op.input), op.scale), op.shift));
        break;
      default: {
        const never: never = op;
        throw new Error(`unknown op ${JSON.stringify(never)}`);
      }
    }
  }
  const out: Record<string, tf.Tensor4D> = {};
  for (const spec of graph.outputs) out[spec.name] = get(spec.name);
  return out;
}
