/**
 * Large and odd-shaped images through the real CLI: wall time and peak RSS of each encode and
 * decode process (GNU time's maximum resident set size), and a check that the round trip keeps
 * the size.
 *
 *   npm run bench:large -- [--model dir] [--sizes 6000x4000,3000x2000,1x8000,8000x1,1x1] [--tile px] [--keep dir]
 *
 * The test image is a sample photo resized to each size (Lanczos), so it has real image
 * statistics. Needs /usr/bin/time (Debian package `time`).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { defaultModelDir } from '../src/index.js';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string' },
    sizes: { type: 'string', default: '6000x4000,3000x2000,1x8000,8000x1,1x1' },
    tile: { type: 'string' },
    keep: { type: 'string' },
  },
});

const CLI_BIN = fileURLToPath(new URL('../../../cli/bin/dqcodec.js', import.meta.url));
const SAMPLE = fileURLToPath(new URL('../../../samples/evening-glow.png', import.meta.url));
const TIME = '/usr/bin/time';
const model = args.model ?? defaultModelDir();

interface Run {
  seconds: number;
  peakMB: number;
}

/** Run the CLI under GNU time; its -o file gets "max RSS in KiB, elapsed seconds". */
function measured(cliArgs: string[], statsFile: string): Run {
  const extra = args.tile ? ['--tile', args.tile] : [];
  const r = spawnSync(TIME, ['-f', '%M %e', '-o', statsFile, process.execPath, CLI_BIN, ...cliArgs, '-m', model, '-q', ...extra], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`dqcodec ${cliArgs.join(' ')} failed (${r.status}): ${r.stderr}`);
  const [kib, seconds] = readFileSync(statsFile, 'utf8').trim().split(/\s+/).map(Number);
  return { seconds, peakMB: kib / 1024 };
}

async function bench(dir: string, width: number, height: number): Promise<string> {
  const name = `${width}x${height}`;
  const input = join(dir, `${name}.png`);
  await sharp(SAMPLE).resize(width, height, { fit: 'fill', kernel: 'lanczos3' }).png().toFile(input);
  const dqc = join(dir, `${name}.dqc`);
  const out = join(dir, `${name}.out.png`);
  const enc = measured(['encode', input, '-o', dqc], join(dir, 'time.txt'));
  const dec = measured(['decode', dqc, '-o', out], join(dir, 'time.txt'));
  const meta = await sharp(out).metadata();
  if (meta.width !== width || meta.height !== height) throw new Error(`${name}: decoded ${meta.width}×${meta.height}`);
  const mp = (width * height) / 1e6;
  const size = statSync(dqc).size;
  return `| ${width}×${height} | ${mp.toFixed(mp < 0.01 ? 6 : 1)} | ${enc.seconds.toFixed(1)} | ${enc.peakMB.toFixed(0)} | ${dec.seconds.toFixed(1)} | ${dec.peakMB.toFixed(0)} | ${size} |`;
}

if (!existsSync(TIME)) throw new Error(`${TIME} is missing (apt-get install time)`);
const dir = args.keep ?? mkdtempSync(join(tmpdir(), 'dq-large-'));
console.log(`model ${model}${args.tile ? `, tile ${args.tile}` : ''}; CLI processes measured with GNU time`);
console.log('| image | MP | encode s | encode peak RSS MB | decode s | decode peak RSS MB | .dqc bytes |');
console.log('|---|---:|---:|---:|---:|---:|---:|');
try {
  for (const s of args.sizes.split(',')) {
    const [w, h] = s.split('x').map(Number);
    console.log(await bench(dir, w, h));
  }
} finally {
  if (!args.keep) rmSync(dir, { recursive: true, force: true });
}
