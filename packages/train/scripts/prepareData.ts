/**
 * Builds the photo dataset from Debian's wallpaper packages (see data/photos.txt):
 *
 *   apt-get install plasma-workspace-wallpapers mate-backgrounds
 *   npx tsx packages/train/scripts/prepareData.ts [--out data/photos] [--max-side 1536]
 *
 * Writes <out>/train and <out>/heldout as PNG, downscaled so the longer side is at most
 * --max-side (the sources are JPEGs up to 2560 px; downscaling averages away JPEG noise).
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import sharp from 'sharp';

const { values } = parseArgs({ options: { out: { type: 'string', default: 'data/photos' }, 'max-side': { type: 'string', default: '1536' } } });
const listPath = join(dirname(fileURLToPath(import.meta.url)), '..', 'data', 'photos.txt');
const maxSide = Number(values['max-side']);

let section: 'train' | 'heldout' = 'train';
const entries: { path: string; split: 'train' | 'heldout' }[] = [];
for (const line of readFileSync(listPath, 'utf8').split('\n')) {
  if (line.startsWith('# heldout')) section = 'heldout';
  if (line.startsWith('/')) entries.push({ path: line.trim(), split: section });
}
const missing = entries.filter((e) => !existsSync(e.path));
if (missing.length > 0) {
  const pkgs = new Set(missing.map((m) => (m.path.startsWith('/usr/share/wallpapers') ? 'plasma-workspace-wallpapers' : 'mate-backgrounds')));
  console.error(`prepareData: ${missing.length} photos missing (first: ${missing[0].path}); install: apt-get install ${[...pkgs].join(' ')}`);
  process.exit(1);
}
const counts = { train: 0, heldout: 0 };
let pixels = 0;
for (const e of entries) {
  const dir = join(values.out!, e.split);
  mkdirSync(dir, { recursive: true });
  // Distinct names: several packages name their files after the resolution.
  const name = e.path.includes('/wallpapers/') ? e.path.split('/')[4] : basename(e.path).replace(/\.\w+$/, '');
  const info = await sharp(e.path).rotate().resize(maxSide, maxSide, { fit: 'inside', withoutEnlargement: true, kernel: 'lanczos3' }).png().toFile(join(dir, `${name}.png`));
  pixels += info.width * info.height;
  counts[e.split]++;
}
console.log(`prepareData: ${counts.train} training and ${counts.heldout} held-out photos (${(pixels / 1e6).toFixed(1)} MP) in ${values.out}`);
