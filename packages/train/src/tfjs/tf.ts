/**
 * The single import point for TensorFlow.js in this package. The umbrella package registers
 * every op's gradient (and the chained-op methods) on the shared tfjs-core engine; tfjs-core alone
 * has none, and its ESM build cannot be imported piecemeal from plain Node. Backends are chosen
 * in backend.ts.
 */
import '@tensorflow/tfjs';

export * from '@tensorflow/tfjs-core';
