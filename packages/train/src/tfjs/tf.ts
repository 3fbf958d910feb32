/**
 * The single import point for TensorFlow.js in this package. The umbrella package registers
 * every op's gradient (and the chained-op methods) on the shared tfjs-core engine; tfjs-core alone
 * has none, and its ESM build cannot be imported piecemeal from plain Node. Backends are chosen
 * in backend.ts.
 */
import { enableProdMode } from '@tensorflow/tfjs';

// Production mode skips tfjs' debug-time checks and its "install tfjs-node" banner, which
// would otherwise be printed on the first use of the cpu backend in Node.
enableProdMode();

export * from '@tensorflow/tfjs-core';
