/** The decoder's Web Worker with onnxruntime-web's WASM build (createDecoder({ worker: true }), WASM). */
import * as ort from 'onnxruntime-web/wasm';
import { serve } from './workerMain.js';

serve(ort);
