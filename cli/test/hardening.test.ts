/**
 * Hardening of the command line (issue 7): fuzzed files through decode and info, --max-pixels,
 * batches that keep going, several processes at once, and no partial outputs when the process
 * is killed mid-write, the file-size limit is hit (EFBIG) or the device is full (ENOSPC).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, watch, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { DqCodec } from '@dqcodec/codec';
import { pixelCount } from '../src/commands/codecCommon.js';
import { makeCase } from '../../packages/core/test/fuzz/harness.js';
import { nodeCorpus, runNodeCase } from '../../packages/codec/test/fuzz/node.js';
import { makeModel, photoPixels, png, tmp } from '../../packages/codec/test/node/helpers.js';
import { cli, expectUserError, type Result } from './inProcess.js';

const BIN = fileURLToPath(new URL('../bin/dqcodec.js', import.meta.url));

/** The real binary in a child process, asynchronously (so several can run, and one can be killed). */
function spawnCli(args: string[], opts: { fileSizeBlocks?: number } = {}): { child: ChildProcess; done: Promise<Result & { signal: string | null }> } {
  const env = { ...process.env, NO_COLOR: '1' };
  // `ulimit -f` makes writes past the limit fail with EFBIG (Node ignores SIGXFSZ): a full disk for one process.
  const child = opts.fileSizeBlocks
    ? spawn('sh', ['-c', `ulimit -f ${opts.fileSizeBlocks} && exec "$0" "$@"`, process.execPath, BIN, ...args], { env })
    : spawn(process.execPath, [BIN, ...args], { env });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += String(d)));
  child.stderr!.on('data', (d) => (stderr += String(d)));
  const done = new Promise<Result & { signal: string | null }>((resolve) => child.on('close', (code, signal) => resolve({ code: code ?? -1, signal, stdout, stderr })));
  return { child, done };
}

/** Every entry of a directory, dot files (temporary files) included. */
const ls = (dir: string): string[] => readdirSync(dir).sort();

let model: string;
let codec: DqCodec;
let photo: string;

beforeAll(async () => {
  model = await makeModel(1);
  codec = await DqCodec.load(model);
  photo = join(tmp('dq-cli-h-'), 'photo.png');
  writeFileSync(photo, await png(photoPixels(50, 34), 50, 34, 3));
});

describe('fuzzed .dqc files through the command line', () => {
  it('a batch decode of 200 mutated files keeps going, reports each failure in one line, writes only complete outputs', async () => {
    const limited = await DqCodec.load(model, { maxPixels: 1_000_000 });
    const corpus = await nodeCorpus(limited);
    const dir = tmp('dq-fuzz-cli-');
    const expected = new Map<string, string>();
    for (let i = 0; i < 200; i++) {
      const c = { ...makeCase(corpus, 1, i), preview: false };
      const name = `case-${String(i).padStart(4, '0')}.dqc`;
      writeFileSync(join(dir, name), c.mutant.bytes);
      expected.set(name, await runNodeCase(limited, c));
    }
    const out = join(tmp(), 'out');
    const r = await spawnCli(['decode', dir, '-o', out, '-m', model, '--max-pixels', '1M', '-q']).done;
    const rejected = [...expected].filter(([, o]) => o !== 'decoded').map(([n]) => n);
    const decoded = [...expected].filter(([, o]) => o === 'decoded').map(([n]) => n);
    expect(rejected.length).toBeGreaterThan(50);
    expect(decoded.length).toBeGreaterThan(20);
    expect(r.code, r.stderr).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines[0]).toBe(`dqcodec: ${rejected.length} of 200 inputs failed (${decoded.length} decoded):`);
    expect(lines.slice(1).map((l) => basename(l.trim().split(':')[0]))).toEqual(rejected);
    for (const l of lines.slice(1)) expect(l).not.toMatch(/internal error/);
    expect(ls(out)).toEqual(decoded.map((n) => n.replace('.dqc', '.png')));
    for (const n of decoded.slice(0, 20)) {
      const meta = await sharp(join(out, n.replace('.dqc', '.png'))).metadata();
      expect(meta.width).toBeGreaterThan(0);
    }
    // info checks every checksum too: each file is either shown or refused in one line.
    let refused = 0;
    for (const name of expected.keys()) {
      const i = await cli(['info', join(dir, name)]);
      if (i.code === 0) continue;
      expectUserError(i, new RegExp(name));
      refused++;
    }
    expect(refused).toBeGreaterThanOrEqual(rejected.length - expected.size / 4);
    await limited.close();
  });

  it('single-file decode of mutated files (spawned, through main.ts): exit 1, one line, no output', async () => {
    const corpus = await nodeCorpus(codec);
    const dir = tmp();
    const flipped = corpus[0].bytes.slice();
    flipped[flipped.length - 3] ^= 4;
    writeFileSync(join(dir, 'cut.dqc'), corpus[0].bytes.subarray(0, 60));
    writeFileSync(join(dir, 'flip.dqc'), flipped);
    const runs = ['cut', 'flip'].map((n) => spawnCli(['decode', join(dir, `${n}.dqc`), '-o', join(dir, `${n}.png`), '-m', model]).done);
    const [cut, flip] = await Promise.all(runs);
    expect([cut.code, flip.code]).toEqual([1, 1]);
    expect(cut.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^dqcodec: .*cut\.dqc: file is truncated/)]);
    expect(flip.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^dqcodec: .*flip\.dqc: stream of level 1 is corrupt/)]);
    expect(ls(dir)).toEqual(['cut.dqc', 'flip.dqc']);
  });
});

describe('--max-pixels', () => {
  it('parses counts with k/M/G suffixes and rejects nonsense', () => {
    expect([pixelCount('1000'), pixelCount('100M'), pixelCount('1.5k'), pixelCount('2G')]).toEqual([1000, 100_000_000, 1500, 2_000_000_000]);
    for (const bad of ['0', '-5', 'lots', '1e9', '']) expect(() => pixelCount(bad)).toThrow(/expected a pixel count/);
  });

  it('refuses images and files over the limit in one line that names the flag; a higher limit accepts them', async () => {
    const d = tmp();
    expectUserError(await cli(['encode', photo, '-o', join(d, 'a.dqc'), '-m', model, '--max-pixels', '1000']), /photo\.png: image is 50×34 \(56×40 once padded to a multiple of 8\), more than the limit of 1000 pixels; raise it with --max-pixels/);
    expect(ls(d)).toEqual([]);
    expect((await cli(['encode', photo, '-o', join(d, 'a.dqc'), '-m', model, '--max-pixels', '3k'])).code).toBe(0);
    expectUserError(await cli(['decode', join(d, 'a.dqc'), '-o', join(d, 'a.png'), '-m', model, '--max-pixels', '2000']), /a\.dqc: padded image size 56×40 exceeds the limit of 2000 pixels; raise it with --max-pixels/);
    expect(ls(d)).toEqual(['a.dqc']);
    const bad = await cli(['decode', join(d, 'a.dqc'), '-o', join(d, 'a.png'), '-m', model, '--max-pixels', 'huge']);
    expect([bad.code, bad.stderr]).toEqual([1, expect.stringMatching(/option '--max-pixels <n>' argument 'huge' is invalid. expected a pixel count/)]);
  });
});

describe('batches', () => {
  it('decode over a directory keeps going past a bad file, reports it at the end, exits 1', async () => {
    const src = tmp();
    for (const n of ['a', 'b']) await codec.encodeFile(photo, join(src, `${n}.dqc`));
    writeFileSync(join(src, 'bad.dqc'), readFileSync(join(src, 'a.dqc')).subarray(0, 40));
    const out = join(tmp(), 'out');
    const r = await cli(['decode', src, '-o', out, '-m', model, '-q']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^dqcodec: 1 of 3 inputs failed \(2 decoded\):\n {2}.*bad\.dqc: file is truncated[^\n]*\n$/);
    expect(ls(out)).toEqual(['a.png', 'b.png']);
  });
});

describe('several processes at once', () => {
  it('three concurrent CLI encodes and two concurrent decodes give the bytes of a sequential in-process run', async () => {
    const src = tmp();
    const sizes: [number, number, 1 | 3][] = [[61, 45, 3], [130, 70, 3], [33, 90, 1], [1, 1, 3]];
    for (const [i, [w, h, c]] of sizes.entries()) writeFileSync(join(src, `img${i}.png`), await png(photoPixels(w, h, c, i + 1), w, h, c));
    const expected = new Map<string, Buffer>();
    for (const f of ls(src)) expected.set(f.replace('.png', '.dqc'), Buffer.from(await codec.encode(join(src, f))));
    const out = tmp();
    const enc = await Promise.all([1, 2, 3].map((p) => spawnCli(['encode', src, '-o', join(out, `p${p}`), '-m', model, '-q']).done));
    for (const [p, r] of enc.entries()) {
      expect(r.code, r.stderr).toBe(0);
      for (const [name, bytes] of expected) expect(Buffer.compare(readFileSync(join(out, `p${p + 1}`, name)), bytes), `p${p + 1}/${name}`).toBe(0);
    }
    const dec = await Promise.all([1, 2].map((p) => spawnCli(['decode', join(out, 'p1'), '-o', join(out, `d${p}`), '-m', model, '-q']).done));
    for (const r of dec) expect(r.code, r.stderr).toBe(0);
    for (const name of expected.keys()) {
      const image = name.replace('.dqc', '.png');
      await codec.decodeFile(join(out, 'p1', name), join(out, image));
      const here = readFileSync(join(out, image));
      for (const d of ['d1', 'd2']) expect(Buffer.compare(readFileSync(join(out, d, image)), here), `${d}/${image}`).toBe(0);
    }
  });
});

describe('no partial outputs', () => {
  let big: string;
  let reference: Buffer;
  beforeAll(async () => {
    // Noisy 1600×1000 pixels: a PNG of a few MB, written in 512 KiB chunks, so a kill can land inside the write.
    const dir = tmp();
    writeFileSync(join(dir, 'big.png'), await png(photoPixels(1600, 1000), 1600, 1000, 3));
    big = join(dir, 'big.dqc');
    await codec.encodeFile(join(dir, 'big.png'), big);
    const ref = join(dir, 'ref.png');
    const r = await spawnCli(['decode', big, '-o', ref, '-m', model, '-q']).done;
    expect(r.code, r.stderr).toBe(0);
    reference = readFileSync(ref);
  });

  /**
   * Decode `big` to `target` (alone in its directory), SIGKILLed as soon as its temporary file
   * appears or after `delayMs`; reports the size of the temporary file the kill left behind.
   */
  async function killedDecode(target: string, delayMs: number | 'on-write'): Promise<{ signal: string | null; tempBytes: number | null }> {
    const dir = dirname(target);
    const prefix = `.${basename(target)}.`;
    const { child, done } = spawnCli(['decode', big, '-o', target, '-m', model, '-q']);
    const kill = (): boolean => child.kill('SIGKILL');
    const watcher = delayMs === 'on-write' ? watch(dir, (_e, name) => name?.startsWith(prefix) && kill()) : null;
    const timer = typeof delayMs === 'number' ? setTimeout(kill, delayMs) : null;
    const r = await done;
    watcher?.close();
    if (timer) clearTimeout(timer);
    const temp = ls(dir).find((f) => f.startsWith(prefix));
    return { signal: r.signal, tempBytes: temp === undefined ? null : statSync(join(dir, temp)).size };
  }

  it('SIGKILL at intervals and during the write: the target is its old content or the complete new one, never partial', async () => {
    let trials = 0;
    let killedInWrite = 0;
    let partial = 0;
    const trial = async (when: number | 'on-write'): Promise<void> => {
      const target = join(tmp(), 'out.png');
      const old = trials++ % 2 === 0 ? `old content ${trials}` : null;
      if (old) writeFileSync(target, old);
      const r = await killedDecode(target, when);
      if (r.signal === 'SIGKILL' && r.tempBytes !== null) killedInWrite++;
      if (r.tempBytes !== null && r.tempBytes < reference.length) partial++;
      if (!existsSync(target)) expect(old, `trial ${trials}: target vanished`).toBeNull();
      else {
        const now = readFileSync(target);
        const ok = (old !== null && now.toString() === old) || Buffer.compare(now, reference) === 0;
        expect(ok, `trial ${trials} (${when}): ${target} holds ${now.length} bytes that are neither the old content nor the complete output`).toBe(true);
      }
    };
    for (const ms of [1000, 2000]) await trial(ms);
    // Kills triggered by the temporary file until two land inside the write phase (a fast disk
    // can finish the write before the signal arrives), 8 attempts at most.
    for (let n = 0; n < 8 && killedInWrite < 2; n++) await trial('on-write');
    console.log(`kill trials: ${trials}; killed while the temporary file existed: ${killedInWrite}; of those, with it partly written: ${partial}`);
    expect(killedInWrite).toBeGreaterThan(0);
  });

  it('hitting the file-size limit (EFBIG) mid-write: exit 1, one line, no output, no temporary file', async () => {
    const dir = tmp();
    const r = await spawnCli(['decode', big, '-o', join(dir, 'out.png'), '-m', model], { fileSizeBlocks: 1000 }).done;
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^dqcodec: .*big\.dqc: cannot write .*out\.png: EFBIG: file too large, write$/)]);
    expect(ls(dir)).toEqual([]);
  });

  it('a full device (/dev/full): exit 1, one line; /dev/null works and stays a device', async () => {
    const small = join(tmp(), 'small.dqc');
    await codec.encodeFile(photo, small);
    const full = await cli(['decode', small, '-o', '/dev/full', '--format', 'png', '-m', model]);
    expectUserError(full, /^dqcodec: .*small\.dqc: cannot write \/dev\/full: ENOSPC: no space left on device, write$/);
    expect(statSync('/dev/full').isCharacterDevice()).toBe(true);
    expect((await cli(['decode', small, '-o', '/dev/null', '--format', 'png', '-m', model, '-q'])).code).toBe(0);
    expect(statSync('/dev/null').isCharacterDevice()).toBe(true);
  });
});

describe('model directory problems through the CLI', () => {
  it('tampered graph, missing graph, newer manifest: one line each, exit 1', async () => {
    const d = tmp();
    const dqc = join(d, 'a.dqc');
    await codec.encodeFile(photo, dqc);
    const copy = (name: string): string => {
      const dir = join(d, name);
      cpSync(model, dir, { recursive: true });
      return dir;
    };
    const tampered = copy('tampered');
    writeFileSync(join(tampered, 'decoder.onnx'), Buffer.concat([readFileSync(join(tampered, 'decoder.onnx')), Buffer.from([0])]));
    expectUserError(await cli(['decode', dqc, '-o', join(d, 'x.png'), '-m', tampered]), /graph files do not match the manifest fingerprint/);
    const missing = copy('missing');
    rmSync(join(missing, 'decoder.onnx'));
    expectUserError(await cli(['decode', dqc, '-o', join(d, 'x.png'), '-m', missing]), /incomplete: cannot read decoder\.onnx/);
    const newer = copy('newer');
    const m = JSON.parse(readFileSync(join(newer, 'manifest.json'), 'utf8'));
    writeFileSync(join(newer, 'manifest.json'), JSON.stringify({ ...m, formatVersion: 3 }));
    expectUserError(await cli(['encode', photo, '-o', join(d, 'y.dqc'), '-m', newer]), /formatVersion is 3: the model was exported by a newer dqcodec .*upgrade dqcodec/);
    expect(ls(d)).toEqual(['a.dqc', 'missing', 'newer', 'tampered']);
    mkdirSync(join(d, 'empty'));
    expectUserError(await cli(['decode', dqc, '-o', join(d, 'x.png'), '-m', join(d, 'empty')]), /has no readable manifest\.json/);
  });
});
