/** The decoder's Web Worker with onnxruntime-web's WebGPU build (createDecoder({ worker: true }), WebGPU). */
import * as ort from 'onnxruntime-web/webgpu';
import { serve } from './workerMain.js';

serve(ort);
