/**
 * Issue 16, hardening second round: inputs that are not what they claim to be. Each numbered
 * case of the issue is a describe block. Resource cases run the real binary in a child process
 * (measured.ts: wall time, peak RSS, SIGKILL past a limit); fixtures are generated, big ones are
 * sparse files or /dev/zero.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { crc32, DqCodec, MAX_THREADS, readHeader, writeContainer } from '@dqcodec/codec';
import { makeModel, photoPixels, png, tmp } from '../../packages/codec/test/node/helpers.js';
import { pathProblem } from '../src/commands/codecCommon.js';
import { printable } from '../src/printable.js';
import { cli, expectUserError, type Result } from './inProcess.js';
import { MB, measuredCli, type Measured } from './measured.js';

/**
 * The README's bound for a CLI encode or decode is about 0.7 GB plus ~9 bytes per pixel; a
 * refused input decodes no pixel, so it must stay near the process's start-up footprint
 * (about 0.15 GB: Node, tsx, onnxruntime, sharp). 400 MB leaves room for a loaded machine and
 * is still far below what reading any of these inputs would take (0.6–22 GB).
 */
const REFUSAL_RSS = 400 * MB;
/** A refusal takes start-up plus milliseconds; 20 s allows a machine shared with a training run. */
const REFUSAL_MS = 20_000;

const ls = (d: string): string[] => readdirSync(d).sort();

/** A measured refusal: exit 1, one line naming the problem, bounded time and memory. */
function expectRefusal(r: Measured, pattern: RegExp): void {
  expect(r.signal, `killed after ${r.ms.toFixed(0)} ms: ${r.stderr}`).toBeNull();
  expect(r.code, r.stderr).toBe(1);
  const lines = r.stderr.trim().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^dqcodec: /);
  expect(lines[0]).toMatch(pattern);
  expect(r.ms).toBeLessThan(REFUSAL_MS);
  expect(r.peakRss).toBeGreaterThan(0);
  expect(r.peakRss, `peak RSS ${(r.peakRss / MB).toFixed(0)} MB`).toBeLessThan(REFUSAL_RSS);
}

function log(what: string, r: Measured): void {
  console.log(`${what}: exit ${r.code}, ${r.ms.toFixed(0)} ms, peak RSS ${(r.peakRss / MB).toFixed(0)} MB`);
}

/** A commander flag error: exit 1, the message, no stack. */
function expectFlagError(r: Result, pattern: RegExp): void {
  expect(r.code, r.stderr).toBe(1);
  expect(r.stderr).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

let model: string;
let photo: string;
let dqc: string;
let tokensJson: string;

beforeAll(async () => {
  model = await makeModel(1);
  const d = tmp('dq-in-');
  photo = join(d, 'photo.png');
  writeFileSync(photo, await png(photoPixels(255, 170), 255, 170, 3));
  dqc = join(d, 'photo.dqc');
  const codec = await DqCodec.load(model);
  await codec.encodeFile(photo, dqc);
  await codec.close();
  tokensJson = join(d, 'photo.json');
  expect((await cli(['tokens', photo, '-o', tokensJson, '-m', model, '-q'])).code).toBe(0);
});

describe('1. inputs are bounded before they are read', () => {
  it('/dev/zero into encode, decode, info and detokenize: refused at once (not a regular file)', async () => {
    const d = tmp();
    const runs: [string, string[]][] = [
      ['encode', ['encode', '/dev/zero', '-o', join(d, 'z.dqc'), '-m', model]],
      ['decode', ['decode', '/dev/zero', '-o', join(d, 'z.png'), '-m', model]],
      ['info', ['info', '/dev/zero']],
      ['detokenize', ['detokenize', '/dev/zero', '-o', join(d, 'z.png'), '-m', model]],
    ];
    for (const [what, args] of runs) {
      const r = await measuredCli(args, { timeoutMs: 60_000 });
      log(`${what} /dev/zero`, r);
      expectRefusal(r, /\/dev\/zero is a character device, not a regular file; dqcodec reads regular files only/);
    }
    expect(ls(d)).toEqual([]);
  });

  it('a valid 255×170 .dqc followed by 1.5 GB of zeros (sparse): TRAILING_DATA from its size, also for --levels 1 and info', async () => {
    const d = tmp();
    const big = join(d, 'big.dqc');
    cpSync(dqc, big);
    truncateSync(big, 1.5e9);
    for (const [what, args] of [
      ['decode', ['decode', big, '-o', join(d, 'big.png'), '-m', model]],
      ['decode --levels 1', ['decode', big, '-o', join(d, 'big.png'), '-m', model, '--levels', '1']],
      ['info', ['info', big]],
    ] as [string, string[]][]) {
      const r = await measuredCli(args);
      log(`${what} on .dqc + 1.5 GB`, r);
      expectRefusal(r, new RegExp(`big\\.dqc: file has ${1.5e9 - statSync(dqc).size} unexpected bytes after the last stream`));
    }
    expect(ls(d)).toEqual(['big.dqc']);
  });

  it('an image file larger than any image within the pixel limit needs: refused from its size', async () => {
    const d = tmp();
    const big = join(d, 'big.png');
    writeFileSync(big, readFileSync(photo));
    truncateSync(big, 200e6);
    // --max-pixels 1M: at most 8 bytes per pixel plus 64 MiB, 75.1 MB.
    const r = await measuredCli(['encode', big, '-o', join(d, 'big.dqc'), '-m', model, '--max-pixels', '1M']);
    log('encode of a 200 MB "PNG" at --max-pixels 1M', r);
    expectRefusal(r, /big\.png is 200 MB, more than an image within the limit of 1000000 pixels can need \(75\.1 MB: 8 bytes per pixel plus 64 MiB\); raise it with --max-pixels/);
    expect(ls(d)).toEqual(['big.png']);
  });

  it('a FIFO as input is refused without blocking (no writer needed), single and in a batch', async () => {
    const d = tmp();
    execFileSync('mkfifo', [join(d, 'pipe.png')]);
    execFileSync('mkfifo', [join(d, 'pipe.dqc')]);
    const r = await measuredCli(['encode', join(d, 'pipe.png'), '-o', join(d, 'x.dqc'), '-m', model], { timeoutMs: 60_000 });
    log('encode of a FIFO', r);
    expectRefusal(r, /pipe\.png is a FIFO \(named pipe\), not a regular file/);
    const r2 = await measuredCli(['decode', join(d, 'pipe.dqc'), '-o', join(d, 'x.png'), '-m', model], { timeoutMs: 60_000 });
    expectRefusal(r2, /pipe\.dqc is a FIFO \(named pipe\), not a regular file/);
    // In a directory, a FIFO with an image's name is a failed input of the batch, not a hang.
    const src = join(d, 'src');
    mkdirSync(src);
    cpSync(photo, join(src, 'a.png'));
    execFileSync('mkfifo', [join(src, 'b.png')]);
    const b = await measuredCli(['encode', src, '-o', join(d, 'out'), '-m', model, '-q'], { timeoutMs: 60_000 });
    expect([b.signal, b.code]).toEqual([null, 1]);
    expect(b.stderr).toMatch(/1 of 2 inputs failed \(1 encoded\):\n {2}.*b\.png is a FIFO/);
    expect(ls(join(d, 'out'))).toEqual(['a.dqc']);
  });

  it('a stream longer than its indices can ever need, and a file that grows while read, are refused', async () => {
    const d = tmp();
    const bytes = readFileSync(dqc);
    const header = readHeader(bytes);
    // Claim 10 MB for the top stream: more than 4 + 2 bytes per index. The CRC is fixed so only the length is wrong.
    const out = Buffer.from(bytes);
    const at = header.headerLength - 4 - 22 * header.levels.length + 14;
    out.writeUInt32LE(10_000_000, at);
    out.writeUInt32LE(crc32(out, 0, header.headerLength - 4), header.headerLength - 4);
    writeFileSync(join(d, 'long.dqc'), out);
    expectUserError(await cli(['decode', join(d, 'long.dqc'), '-o', join(d, 'x.png'), '-m', model]), /long\.dqc: level 0 declares a stream of 10000000 bytes, more than the \d+ bytes that \d+ indices can ever take/);
    expectUserError(await cli(['info', join(d, 'long.dqc')]), /level 0 declares a stream of 10000000 bytes/);
    expect(ls(d)).toEqual(['long.dqc']);
  });
});

describe('2. SVG is refused, by content, whatever the name', () => {
  const bomb = (side: number, filters: number): string => {
    const f = Array.from({ length: filters }, (_, i) => `<filter id="f${i}"><feGaussianBlur stdDeviation="300"/><feMorphology radius="200"/></filter>`).join('');
    const g = Array.from({ length: filters }, (_, i) => `<g filter="url(#f${i})">`).join('');
    return `<svg xmlns="http://www.w3.org/2000/svg" width="${side}" height="${side}">${f}${g}<rect width="${side}" height="${side}" fill="red"/>${'</g>'.repeat(filters)}</svg>`;
  };

  it('a 4000×4000 filter bomb, a plain small SVG, and one named .png: one line each, fast, low memory; PNG and JPEG still encode', async () => {
    const d = tmp();
    writeFileSync(join(d, 'bomb.svg'), bomb(4000, 20));
    writeFileSync(join(d, 'small.svg'), '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16"><rect width="16" height="16"/></svg>');
    writeFileSync(join(d, 'disguised.png'), bomb(300, 3));
    for (const f of ['bomb.svg', 'small.svg', 'disguised.png']) {
      const r = await measuredCli(['encode', join(d, f), '-o', join(d, 'x.dqc'), '-m', model], { timeoutMs: 120_000 });
      log(`encode ${f}`, r);
      expectRefusal(r, new RegExp(`${f.replace('.', '\\.')}: an SVG document \\(vector images are refused: rendering one can take unbounded time\\); accepted formats: PNG, JPEG, WebP, AVIF/HEIF, TIFF, GIF`));
    }
    expect(ls(d)).toEqual(['bomb.svg', 'disguised.png', 'small.svg']);
    // The other direction: real raster formats, whatever their names, are accepted.
    writeFileSync(join(d, 'jpeg-named.png'), await sharp(readFileSync(photo)).jpeg().toBuffer());
    for (const f of ['jpeg-named.png']) expect((await cli(['encode', join(d, f), '-o', join(d, 'ok.dqc'), '-m', model, '-q'])).code).toBe(0);
    expect((await cli(['encode', photo, '-o', join(d, 'ok2.dqc'), '-m', model, '-q'])).code).toBe(0);
    // PDF and gzip (SVGZ) are refused the same way.
    writeFileSync(join(d, 'doc.png'), '%PDF-1.4\n%...');
    expectUserError(await cli(['encode', join(d, 'doc.png'), '-o', join(d, 'y.dqc'), '-m', model]), /doc\.png: a PDF document; accepted formats/);
  });
});

describe('3. corrupt images fail unless --allow-corrupt', () => {
  let jpeg: Buffer;
  beforeAll(async () => {
    jpeg = await sharp(readFileSync(photo)).jpeg({ quality: 90 }).toBuffer();
  });

  it('a 265-byte-class JPEG whose header claims 8000×8000: refused at once, low memory (was 65 s and 1.06 GB)', async () => {
    const d = tmp();
    const head = Buffer.from(jpeg.subarray(0, 400));
    const sof = head.indexOf(Buffer.from([0xff, 0xc0]));
    head.writeUInt16BE(8000, sof + 5);
    head.writeUInt16BE(8000, sof + 7);
    writeFileSync(join(d, 'claims.jpg'), Buffer.concat([head, Buffer.from([0xff, 0xd9])]));
    const r = await measuredCli(['encode', join(d, 'claims.jpg'), '-o', join(d, 'x.dqc'), '-m', model]);
    log('encode of a 402-byte JPEG claiming 8000×8000', r);
    expectRefusal(r, /claims\.jpg: cannot decode image, the data is damaged or truncated \(VipsJpeg: .*\); --allow-corrupt decodes what is readable/);
    expect(ls(d)).toEqual(['claims.jpg']);
  });

  it('half a photo plus an end marker: refused; --allow-corrupt encodes it with a note', async () => {
    const d = tmp();
    writeFileSync(join(d, 'half.jpg'), Buffer.concat([jpeg.subarray(0, jpeg.length >> 1), Buffer.from([0xff, 0xd9])]));
    expectUserError(await cli(['encode', join(d, 'half.jpg'), '-o', join(d, 'x.dqc'), '-m', model]), /half\.jpg: cannot decode image, the data is damaged or truncated/);
    expect(ls(d)).toEqual(['half.jpg']);
    const r = await cli(['encode', join(d, 'half.jpg'), '-o', join(d, 'x.dqc'), '-m', model, '--allow-corrupt']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^note: .*half\.jpg: damaged image data decoded anyway \(VipsJpeg: /);
    expect(ls(d)).toEqual(['half.jpg', 'x.dqc']);
    // tokens takes the same flag.
    expectUserError(await cli(['tokens', join(d, 'half.jpg'), '-o', join(d, 't.json'), '-m', model]), /damaged or truncated/);
    expect((await cli(['tokens', join(d, 'half.jpg'), '-o', join(d, 't.json'), '-m', model, '--allow-corrupt', '-q'])).code).toBe(0);
  });
});

describe('4. output names up to 255 bytes', () => {
  it('names of 236–255 bytes (ASCII and multibyte) encode, single and in a batch; 256 is one line', async () => {
    const d = tmp();
    const names = [236, 240, 250, 255].map((n) => `${'n'.repeat(n - 4)}.dqc`);
    names.push(`${'é'.repeat(125)}.dqc`); // 254 bytes of UTF-8
    for (const n of names) {
      const r = await cli(['encode', photo, '-o', join(d, n), '-m', model, '-q']);
      expect(r.code, `${Buffer.byteLength(n)} bytes: ${r.stderr}`).toBe(0);
    }
    expect(ls(d)).toEqual([...names].sort());
    // A batch whose outputs get such names.
    const src = join(tmp(), 'src');
    mkdirSync(src);
    for (const n of [251, 255]) cpSync(photo, join(src, `${'b'.repeat(n - 4)}.png`));
    const out = join(tmp(), 'out');
    expect((await cli(['encode', src, '-o', out, '-m', model, '-q'])).code).toBe(0);
    expect(ls(out).map((n) => Buffer.byteLength(n))).toEqual([255, 251].sort());
    // Too long for the file system: one line, no temporary file.
    expectUserError(await cli(['encode', photo, '-o', join(d, `${'x'.repeat(252)}.dqc`), '-m', model]), /the file name is longer than 255 bytes/);
    expect(ls(d)).toHaveLength(names.length);
  });
});

describe('5. no stack traces', () => {
  it('a token file over 512 MiB (sparse): refused from its size, at the default limit and at --max-pixels 1G', async () => {
    const d = tmp();
    const big = join(d, 'big.json');
    writeFileSync(big, '{');
    truncateSync(big, 600e6);
    const r = await measuredCli(['detokenize', big, '-o', join(d, 'x.png'), '-m', model]);
    log('detokenize of a 600 MB token file', r);
    expectRefusal(r, /big\.json is 600 MB, more than a token file of at most \d+ indices can need \(\d+ MB: 24 bytes per index, and JSON text is read whole\); for larger images use --format npy/);
    const r2 = await measuredCli(['detokenize', big, '-o', join(d, 'x.png'), '-m', model, '--max-pixels', '1G']);
    expectRefusal(r2, /big\.json is 600 MB, more than a token file of at most \d+ indices can need \(537 MB/);
    expect(ls(d)).toEqual(['big.json']);
  });

  it('--flatten with something that is not a colour: exit 1, before any work', async () => {
    const d = tmp();
    expectFlagError(await cli(['encode', photo, '-o', join(d, 'x.dqc'), '-m', model, '--flatten', 'notacolour']), /--flatten \[colour\]' argument 'notacolour' is invalid\. "notacolour" is not a colour/);
    expectFlagError(await cli(['tokens', photo, '-o', join(d, 'x.json'), '-m', model, '--flatten', 'rgb(1,2)']), /is not a colour/);
    expect((await cli(['encode', photo, '-o', join(d, 'x.dqc'), '-m', model, '--flatten', '#123456', '-q'])).code).toBe(0);
    expect((await cli(['encode', photo, '-o', join(d, 'y.dqc'), '-m', model, '--flatten', '-q'])).code).toBe(0);
  });

  it('manifests with negative or huge tileMargins: BAD_MANIFEST naming the field', async () => {
    const d = tmp();
    for (const [name, margins, pattern] of [
      ['neg', { encoder: -8, decoder: 16 }, /field tileMargins\.encoder must be an integer in \[0, 16384\] \(got -8\)/],
      ['huge', { encoder: 8, decoder: 1e9 }, /field tileMargins\.decoder must be an integer in \[0, 16384\] \(got 1000000000\)/],
      ['str', 'wide', /field tileMargins must be an object/],
    ] as [string, unknown, RegExp][]) {
      const m = copyModel(d, name, (j) => ({ ...j, tileMargins: margins }));
      expectUserError(await cli(['encode', photo, '-o', join(d, 'x.dqc'), '-m', m]), pattern);
    }
    expect(existsSync(join(d, 'x.dqc'))).toBe(false);
  });
});

/** A copy of the test model with its manifest edited. */
function copyModel(parent: string, name: string, edit: (m: Record<string, unknown>) => Record<string, unknown>): string {
  const dir = join(parent, name);
  cpSync(model, dir, { recursive: true });
  const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(edit(m)));
  return dir;
}

describe('6. no hangs from a model directory or a flag', () => {
  it('config.resBlocks 1e12 (and 1e8): refused when the model loads, in milliseconds', async () => {
    const d = tmp();
    for (const n of [1e12, 1e8, 65]) {
      const m = copyModel(d, `rb${n}`, (j) => ({ ...j, config: { ...(j.config as object), resBlocks: n } }));
      const r = await measuredCli(['decode', dqc, '-o', join(d, 'x.png'), '-m', m], { timeoutMs: 60_000 });
      log(`decode with resBlocks ${n}`, r);
      expectRefusal(r, new RegExp(`manifest\\.json: field config\\.resBlocks must be an integer in \\[0, 64\\] \\(got ${n}\\)`));
    }
    expect(ls(d)).toEqual(['rb100000000', 'rb1000000000000', 'rb65']);
  });

  it('--threads is 1..MAX_THREADS (64, or the core count when larger): 100000 is refused before anything runs', async () => {
    const d = tmp();
    const max = Math.max(64, availableParallelism());
    expect(MAX_THREADS).toBe(max);
    expectFlagError(await cli(['encode', photo, '-o', join(d, 'x.dqc'), '-m', model, '--threads', '100000']), new RegExp(`--threads <n>' argument '100000' is invalid\\. expected an integer from 1 to ${max}`));
    expectFlagError(await cli(['decode', dqc, '-o', join(d, 'x.png'), '-m', model, '--threads', '0']), /expected an integer from 1 to/);
    expectFlagError(await cli(['decode', dqc, '-o', join(d, 'x.png'), '-m', model, '--threads', String(max + 1)]), /expected an integer from 1 to/);
    const t0 = performance.now();
    expect((await cli(['decode', dqc, '-o', join(d, 'x.png'), '-m', model, '--threads', String(max), '-q'])).code).toBe(0);
    console.log(`decode of 255×170 with --threads ${max}: ${(performance.now() - t0).toFixed(0)} ms`);
    await expect(DqCodec.load(model, { threads: 100_000 })).rejects.toThrow(new RegExp(`threads must be an integer from 1 to ${max}`));
  });
});

describe('7. multi-frame inputs and symlinks are reported or handled', () => {
  it('animated GIF and WebP, multi-page TIFF: the first frame is encoded, with a note saying so', async () => {
    const d = tmp();
    const a = readFileSync(photo);
    const b = await sharp(a).negate().png().toBuffer();
    for (const [f, what] of [['gif', '2 frames \\(an animation\\)'], ['webp', '2 frames \\(an animation\\)'], ['tiff', '2 pages']]) {
      const file = join(d, `multi.${f}`);
      writeFileSync(file, await sharp([a, b], { join: { animated: true } }).toFormat(f as 'gif').toBuffer());
      const r = await cli(['encode', file, '-o', join(d, `${f}.dqc`), '-m', model]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(new RegExp(`^note: .*multi\\.${f}: the image has ${what}: only the first is encoded\\n$`));
    }
    // A single frame says nothing.
    const one = await cli(['encode', photo, '-o', join(d, 'one.dqc'), '-m', model]);
    expect(one.stderr).toBe('');
  });

  it('a directory with a symlinked image, a symlinked subdirectory, a loop and a broken link: followed, noted, reported', async () => {
    const root = tmp();
    const src = join(root, 'src');
    mkdirSync(join(src, 'sub'), { recursive: true });
    mkdirSync(join(root, 'elsewhere'));
    cpSync(photo, join(src, 'a.png'));
    cpSync(photo, join(root, 'elsewhere', 'c.png'));
    symlinkSync(join(root, 'elsewhere'), join(src, 'linked-dir'));
    symlinkSync(photo, join(src, 'b.png'));
    symlinkSync('..', join(src, 'sub', 'loop'));
    symlinkSync('nowhere.png', join(src, 'broken.png'));
    const out = join(root, 'out');
    const r = await cli(['encode', src, '-o', out, '-m', model]);
    expect(r.code).toBe(1);
    expect(r.stdout.trim().split('\n')).toHaveLength(3);
    expect(r.stderr).toMatch(/^note: .*src\/sub\/loop: leads to .*src, which is already searched \(a symlink loop or a second link\); skipped\n/);
    expect(r.stderr).toMatch(/1 of 4 inputs failed \(3 encoded\):\n {2}.*broken\.png: a symbolic link that leads nowhere \(no such file or directory\)\n$/);
    expect(readdirSync(out, { recursive: true }).map(String).sort()).toEqual(['a.dqc', 'b.dqc', 'linked-dir', 'linked-dir/c.dqc']);
  });
});

describe('8. read-only outputs', () => {
  it('a 0444 target is refused (one line, untouched) unless --force, which keeps its mode; batches too', async () => {
    const d = tmp();
    const target = join(d, 'ro.dqc');
    writeFileSync(target, 'old');
    chmodSync(target, 0o444);
    expectUserError(await cli(['encode', photo, '-o', target, '-m', model]), /ro\.dqc is read-only \(mode 0444\); use --force \(library: the force option\) to replace it/);
    expect([readFileSync(target, 'utf8'), statSync(target).mode & 0o777]).toEqual(['old', 0o444]);
    expect((await cli(['encode', photo, '-o', target, '-m', model, '--force', '-q'])).code).toBe(0);
    expect(readFileSync(target).subarray(0, 4).toString()).toBe('DQC1');
    expect(statSync(target).mode & 0o777).toBe(0o444);
    // decode, detokenize and a batch.
    const png0 = join(d, 'ro.png');
    writeFileSync(png0, 'old');
    chmodSync(png0, 0o400);
    expectUserError(await cli(['decode', dqc, '-o', png0, '-m', model]), /ro\.png is read-only \(mode 0400\)/);
    expectUserError(await cli(['detokenize', tokensJson, '-o', png0, '-m', model]), /ro\.png is read-only/);
    const out = join(d, 'out');
    mkdirSync(out);
    writeFileSync(join(out, 'photo.dqc'), 'old');
    chmodSync(join(out, 'photo.dqc'), 0o444);
    const b = await cli(['encode', photo, '-o', `${out}/`, '-m', model, '-q']);
    expect(b.stderr).toMatch(/photo\.dqc is read-only/);
    expect(readFileSync(join(out, 'photo.dqc'), 'utf8')).toBe('old');
    expect(ls(d)).toEqual(['out', 'ro.dqc', 'ro.png']);
  });
});

describe('9. untrusted strings are escaped when printed', () => {
  const EVIL = 'evil\x1b[2J\nOK: decoded fine\x07\u202e';

  it('file names with newlines, ESC and bidi controls: every line printed stays one line, controls shown as \\xHH', async () => {
    const d = tmp();
    const name = join(d, `${EVIL}.png`);
    cpSync(photo, name);
    const r = await cli(['encode', name, '-o', join(d, 'out.dqc'), '-m', model]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('evil\\x1b[2J\\x0aOK: decoded fine\\x07\\u{202e}.png → ');
    expect(r.stdout.split('\n')).toHaveLength(2);
    expect(r.stdout).not.toMatch(/[\x00-\x09\x0b-\x1f\u202e]/);
    // Errors that quote it, single and batch.
    writeFileSync(name, 'not an image');
    const e = await cli(['encode', name, '-o', join(d, 'out2.dqc'), '-m', model]);
    expectUserError(e, /evil\\x1b\[2J\\x0aOK: decoded fine\\x07\\u\{202e\}\.png: not a readable image \(no signature of an accepted format\); accepted formats: PNG/);
    const b = await cli(['encode', d, '-o', join(d, 'batch'), '-m', model, '-q']);
    expect(b.stderr.trim().split('\n')).toEqual(['dqcodec: 1 of 1 inputs failed (0 encoded):', expect.stringMatching(/^ {2}.*evil\\x1b\[2J\\x0aOK.*not a readable image/)]);
    expect((await cli(['info', join(d, 'out.dqc'), '-m', model])).stdout).not.toMatch(/\x1b/);
    // An output name the user typed is quoted escaped too (main.ts prints every user error printable).
    const r2 = await measuredCli(['encode', photo, '-o', join(d, `${EVIL}.png`), '-m', model]);
    expect([r2.code, r2.stderr]).toEqual([1, expect.stringMatching(/^dqcodec: output .*evil\\x1b\[2J\\x0aOK: decoded fine\\x07\\u\{202e\}\.png should end in \.dqc .*\n$/)]);
  });

  it("a manifest's name and a token file's model.name", async () => {
    const d = tmp();
    const m = copyModel(d, 'evil-model', (j) => ({ ...j, name: EVIL }));
    const t = await cli(['tokens', photo, '-o', join(d, 't.json'), '-m', m]);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/model evil\\x1b\[2J\\x0aOK: decoded fine\\x07\\u\{202e\}\n$/);
    const i = await cli(['info', dqc, '-m', m]);
    expect(i.stdout).toMatch(/matches evil\\x1b\[2J\\x0aOK/);
    expect(i.stdout).not.toMatch(/\x1b/);
    const j = await cli(['info', dqc, '-m', m, '--json']);
    expect(j.stdout).not.toMatch(/[\x1b\u202e]/);
    expect(JSON.parse(j.stdout).model.name).toBe(EVIL);
    // A token file whose model.name is hostile, from another model: the refusal quotes it escaped.
    const doc = JSON.parse(readFileSync(tokensJson, 'utf8')) as { model: { name: string; fingerprint: string } };
    doc.model = { name: EVIL, fingerprint: 'f'.repeat(64) };
    writeFileSync(join(d, 'evil.json'), JSON.stringify(doc));
    const r = await cli(['detokenize', join(d, 'evil.json'), '-o', join(d, 'x.png'), '-m', model]);
    expectUserError(r, /tokens were made by another model \(evil\\x1b\[2J\\x0aOK: decoded fine\\x07\\u\{202e\}, fingerprint f{16}…/);
    expect(printable(printable(EVIL))).toBe(printable(EVIL));
  });
});

describe('10. accurate messages', () => {
  it('a symlink loop is a symlink loop; a path through a file is not "no such file"; EACCES says permission denied', async () => {
    const d = tmp();
    symlinkSync(join(d, 'b.png'), join(d, 'a.png'));
    symlinkSync(join(d, 'a.png'), join(d, 'b.png'));
    expectUserError(await cli(['encode', join(d, 'a.png'), '-o', join(d, 'x.dqc'), '-m', model]), /a\.png: too many levels of symbolic links \(a symlink loop\?\)/);
    expectUserError(await cli(['decode', join(dqc, 'inside.dqc'), '-o', join(d, 'x.png'), '-m', model]), /inside\.dqc: a part of the path is not a directory/);
    expect(pathProblem('p', Object.assign(new Error('x'), { code: 'EACCES' }))).toBe('p: permission denied (it or one of its directories cannot be read)');
    if (process.getuid?.() !== 0) {
      // Root reads anything; elsewhere, an unreadable parent directory.
      const locked = join(d, 'locked');
      mkdirSync(locked);
      cpSync(photo, join(locked, 'p.png'));
      chmodSync(locked, 0);
      expectUserError(await cli(['encode', join(locked, 'p.png'), '-o', join(d, 'x.dqc'), '-m', model]), /p\.png: permission denied/);
      chmodSync(locked, 0o755);
    }
  });

  it('a 587 MB manifest (sparse) is "too large", not "not a model directory", in bounded memory', async () => {
    const d = tmp();
    const m = copyModel(d, 'huge', (j) => j);
    truncateSync(join(m, 'manifest.json'), 587e6);
    const r = await measuredCli(['decode', dqc, '-o', join(d, 'x.png'), '-m', m]);
    log('decode with a 587 MB manifest', r);
    expectRefusal(r, /manifest\.json in .*huge is 587 MB, more than the 64 MiB a manifest may have/);
  });

  it('fingerprints that share a long prefix are shown far enough to differ', async () => {
    const d = tmp();
    const bytes = Buffer.from(readFileSync(dqc));
    const h = readHeader(bytes);
    // Change the 30th character of the file's fingerprint (offset 32 + 29), fix the header CRC.
    bytes[32 + 29] = bytes[32 + 29] === 0x61 ? 0x62 : 0x61;
    bytes.writeUInt32LE(crc32(bytes, 0, h.headerLength - 4), h.headerLength - 4);
    writeFileSync(join(d, 'near.dqc'), bytes);
    const r = await cli(['decode', join(d, 'near.dqc'), '-o', join(d, 'x.png'), '-m', model]);
    expectUserError(r, /encoded by another model \(fingerprint ([0-9a-f]{33})…; the loaded model test-small is ([0-9a-f]{33})…\)/);
    const [, a, b] = /fingerprint ([0-9a-f]+)…; the loaded model test-small is ([0-9a-f]+)…/.exec(r.stderr)!;
    expect(a).not.toBe(b);
  });

  it('a file whose level shapes do not fit the model is told so, not told to raise --max-pixels', async () => {
    const d = tmp();
    const fp = JSON.parse(readFileSync(join(model, 'manifest.json'), 'utf8')).fingerprint as string;
    // 64×64 pixels (under --max-pixels 5000) but one level of M = 256 at stride 1: 1M indices.
    const file = writeContainer(
      { fingerprint: fp, width: 64, height: 64, channels: 3, paddedWidth: 64, paddedHeight: 64, method: 'static', tablesCrc: 0, levels: [{ M: 256, K: 64, h: 64, w: 64 }] },
      [new Uint8Array(0)],
    );
    writeFileSync(join(d, 'shape.dqc'), file);
    const r = await cli(['decode', join(d, 'shape.dqc'), '-o', join(d, 'x.png'), '-m', model, '--max-pixels', '5000']);
    expectUserError(r, /shape\.dqc: level 0 of the file \(M=256, K=64, 64×64\) does not fit model test-small/);
    expect(r.stderr).not.toMatch(/max-pixels/);
    // Tokens over the pixel limit say so (and name the flag) before anything is packed or decoded.
    const t = await cli(['detokenize', tokensJson, '-o', join(d, 'y.png'), '-m', model, '--max-pixels', '10000']);
    expectUserError(t, /photo\.json: padded image size 256×176 exceeds the limit of 10000 pixels; raise it with --max-pixels/);
  });
});
