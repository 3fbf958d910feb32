/**
 * Builds the photo dataset from Debian's wallpaper packages (see data/photos.txt):
 *
 *   apt-get install plasma-workspace-wallpapers mate-backgrounds lomiri-wallpapers-16.04 lomiri-wallpapers-20.04 lxqt-themes
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

// A '# <debian-package>:' line names the package of the paths below it; '# heldout:' starts the
// held-out section (whose paths carry their package in the comment after '#').
let section: 'train' | 'heldout' = 'train';
let pkg = '';
const entries: { path: string; split: 'train' | 'heldout'; pkg: string }[] = [];
for (const line of readFileSync(listPath, 'utf8').split('\n')) {
  if (line.startsWith('# heldout')) section = 'heldout';
  const header = /^# ([a-z0-9.+-]+):\s*$/.exec(line);
  if (header && header[1] !== 'heldout') pkg = header[1];
  if (line.startsWith('/')) entries.push({ path: line.trim(), split: section, pkg: packageOf(line.trim(), pkg) });
}

function packageOf(path: string, fallback: string): string {
  if (path.startsWith('/usr/share/wallpapers/')) return 'plasma-workspace-wallpapers';
  if (path.startsWith('/usr/share/backgrounds/mate/')) return 'mate-backgrounds';
  return fallback;
}
const missing = entries.filter((e) => !existsSync(e.path));
if (missing.length > 0) {
  const pkgs = new Set(missing.map((m) => m.pkg));
  console.error(`prepareData: ${missing.length} photos missing (first: ${missing[0].path}); install: apt-get install ${[...pkgs].join(' ')}`);
  process.exit(1);
}
const counts = { train: 0, heldout: 0 };
let pixels = 0;
for (const e of entries) {
  const dir = join(values.out!, e.split);
  mkdirSync(dir, { recursive: true });
  // Distinct names: several packages name their files after the resolution.
  const name = e.path.startsWith('/usr/share/wallpapers/') ? e.path.split('/')[4] : basename(e.path).replace(/\.\w+$/, '');
  const info = await sharp(e.path).rotate().resize(maxSide, maxSide, { fit: 'inside', withoutEnlargement: true, kernel: 'lanczos3' }).png().toFile(join(dir, `${name}.png`));
  pixels += info.width * info.height;
  counts[e.split]++;
}
console.log(`prepareData: ${counts.train} training and ${counts.heldout} held-out photos (${(pixels / 1e6).toFixed(1)} MP) in ${values.out}`);
