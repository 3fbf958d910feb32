// npm pack/publish of @dqcodec/codec: `copy` (prepack) puts the shipped model, models/default at
// the repository root, into the package as models/default; `remove` (postpack) takes it out again,
// so that in the repository defaultModelDir() keeps finding the root's models/default.
import { cpSync, existsSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const target = fileURLToPath(new URL('../models/', import.meta.url));
const source = fileURLToPath(new URL('../../../models/default/', import.meta.url));
// models/default is a model family (family.json + one model directory per quality) or, for an
// older checkout, a single model directory (manifest.json + graphs): copied whole either way.
const required = ['family.json', 'manifest.json'];

if (process.argv[2] === 'copy') {
  rmSync(target, { recursive: true, force: true });
  if (!required.some((f) => existsSync(source + f))) throw new Error(`packModel: ${source} holds neither family.json nor manifest.json`);
  cpSync(source, `${target}default/`, { recursive: true, filter: (src) => !/\/\./.test(src.slice(source.length)) });
} else if (process.argv[2] === 'remove') {
  rmSync(target, { recursive: true, force: true });
} else {
  throw new Error('usage: node scripts/packModel.mjs copy|remove');
}
