// npm pack/publish of @dqcodec/codec: `copy` (prepack) puts the shipped model, models/default at
// the repository root, into the package as models/default; `remove` (postpack) takes it out again,
// so that in the repository defaultModelDir() keeps finding the root's models/default.
import { cpSync, existsSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const target = fileURLToPath(new URL('../models/', import.meta.url));
const source = fileURLToPath(new URL('../../../models/default/', import.meta.url));
const files = ['manifest.json', 'encoder.onnx', 'quantizer.onnx', 'decoder.onnx'];

if (process.argv[2] === 'copy') {
  rmSync(target, { recursive: true, force: true });
  for (const f of files) {
    if (!existsSync(source + f)) throw new Error(`packModel: ${source + f} is missing`);
    cpSync(source + f, `${target}default/${f}`);
  }
} else if (process.argv[2] === 'remove') {
  rmSync(target, { recursive: true, force: true });
} else {
  throw new Error('usage: node scripts/packModel.mjs copy|remove');
}
