import { createLocalDecoder, type CreateDecoderOptions, type WebDecoder } from './decoder.js';
import { WebDecoderError } from './errors.js';
import { loadOrt } from './load.js';
import { createWorkerDecoder } from './workerClient.js';

/**
 * Load a model and create its decoder session: on the page's thread, or with `worker` in a Web
 * Worker. Rejects with WebDecoderError (fetch, WebGPU, session problems) or DqcError('BAD_MANIFEST').
 */
export async function createDecoder(options: CreateDecoderOptions): Promise<WebDecoder> {
  if (typeof options !== 'object' || options === null) throw new WebDecoderError('BAD_ARGUMENT', 'createDecoder needs an options object with `model`');
  return options.worker ? createWorkerDecoder(options) : createLocalDecoder(options, loadOrt);
}
