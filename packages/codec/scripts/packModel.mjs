// npm pack/publish of @dqcodec/codec: `copy` (prepack) puts the shipped model, models/default at
// the repository root, into the package as models/default; `remove` (postpack) takes it out again,
// so that in the repository defaultModelDir() keeps finding the root's models/default.
// models/default is a model family (family.json plus one model directory per quality) or a single
// model directory (manifest.json); either way exactly the files a model needs are copied.
import { cpSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const target = fileURLToPath(new URL('../models/', import.meta.url));
const source = fileURLToPath(new URL('../../../models/default/', import.meta.url));
const files = ['manifest.json', 'encoder.onnx', 'quantizer.onnx', 'decoder.onnx'];

function copyModel(from, to) {
  for (const f of files) {
    if (!existsSync(from + f)) throw new Error(`packModel: ${from + f} is missing`);
    cpSync(from + f, to + f);
  }
}

if (process.argv[2] === 'copy') {
  rmSync(target, { recursive: true, force: true });
  if (existsSync(`${source}family.json`) && !existsSync(`${source}manifest.json`)) {
    const family = JSON.parse(readFileSync(`${source}family.json`, 'utf8'));
    cpSync(`${source}family.json`, `${target}default/family.json`);
    for (const m of family.qualities) copyModel(`${source}${m.dir}/`, `${target}default/${m.dir}/`);
  } else {
    copyModel(source, `${target}default/`);
  }
} else if (process.argv[2] === 'remove') {
  rmSync(target, { recursive: true, force: true });
} else {
  throw new Error('usage: node scripts/packModel.mjs copy|remove');
}
