/**
 * @dqcodec/codec: the pure-TS core (.dqc format, entropy coding, manifests; also importable
 * alone as `@dqcodec/codec/core`, e.g. in browsers) plus the Node API (DqCodec: encode/decode
 * images through onnxruntime-node and sharp).
 */
export * from './core/index.js';
export * from './node/index.js';
