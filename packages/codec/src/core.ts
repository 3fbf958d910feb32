/** `@dqcodec/codec/core`: the pure-TS core, re-exported from its own package `@dqcodec/core`. */
export * from '@dqcodec/core';
