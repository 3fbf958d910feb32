/**
 * @dqcodec/web's decoder, run in Node on onnxruntime-web's own WASM runtime (its Node build,
 * injected through the `ort` option), against the Node codec (onnxruntime-node) on the same files:
 * the same pixels, progressive previews, streaming, tiling, and every error path. The decoder is
 * created for the shipped model family (models/default: family.json + one model per quality; the
 * member is picked by each file's fingerprint and loaded on first use); the single-model path is
 * covered with the DQ-AE (models/dq-ae). The real-browser test (WebGPU and WASM in Chromium) is
 * test/browser/web.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import * as ortWeb from 'onnxruntime-web';
import { DqCodec, encodeIndices, isDqcError, writeContainer, type DecodedImage } from '@dqcodec/codec';
import { parseManifest } from '@dqcodec/core';
import { createDecoder, isWebDecoderError, WebDecoder, type DecodeResult, type Ort } from '../src/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
/** The model family (family.json + dqc-tc-q1 … q10). */
const familyDir = join(root, 'models/default');
const family = JSON.parse(readFileSync(join(familyDir, 'family.json'), 'utf8')) as { name: string; defaultQuality: number; qualities: { quality: number; dir: string; fingerprint: string }[] };
const memberDir = (q: number): string => join(familyDir, family.qualities[q - 1].dir);
/** A single model (the learned-codebook DQ-AE). */
const dqAeDir = join(root, 'models/dq-ae');
const ortDist = `${dirname(createRequire(import.meta.url).resolve('onnxruntime-web'))}/`;
const ort = ortWeb as unknown as Ort;

const MODELS_URL = 'http://models.test/';

/**
 * fetch() over a directory on disk served at MODELS_URL (the decoder fetches family.json, the
 * members' manifest.json and decoder.onnx). `override` replaces files by path (relative to `dir`)
 * or by file name; `log` collects the paths fetched and their sizes.
 */
function diskFetch(dir: string, override: Record<string, Uint8Array | string | number> = {}, log?: { path: string; bytes: number }[]): typeof fetch {
  return (async (input: RequestInfo | URL) => {
    const url = new URL(String(input instanceof Request ? input.url : input));
    const rel = url.pathname.slice(new URL(MODELS_URL).pathname.length);
    const o = override[rel] ?? override[rel.split('/').pop() ?? ''];
    let res: Response;
    if (typeof o === 'number') res = new Response('nope', { status: o });
    else if (o !== undefined) res = new Response(o as BodyInit);
    else {
      try {
        res = new Response(readFileSync(join(dir, rel)));
      } catch {
        res = new Response('not found', { status: 404, statusText: 'Not Found' });
      }
    }
    log?.push({ path: rel, bytes: res.ok ? Number((await res.clone().arrayBuffer()).byteLength) : 0 });
    return res;
  }) as typeof fetch;
}

/** A decoder for the family (served at MODELS_URL from models/default). */
function open(extra: Partial<Parameters<typeof createDecoder>[0]> = {}): Promise<WebDecoder> {
  return createDecoder({ model: MODELS_URL, provider: 'wasm', ort, wasmPaths: ortDist, numThreads: 1, fetch: diskFetch(familyDir), ...extra });
}

/** A decoder for the DQ-AE, a single model directory (served at MODELS_URL from models/dq-ae). */
function openDqAe(extra: Partial<Parameters<typeof createDecoder>[0]> = {}): Promise<WebDecoder> {
  return createDecoder({ model: MODELS_URL, provider: 'wasm', ort, wasmPaths: ortDist, numThreads: 1, fetch: diskFetch(dqAeDir), ...extra });
}

/** Max |Δ| over the channels the stored image has (RGB, or grey in R=G=B) and alpha. */
function maxDiff(web: DecodeResult, ref: DecodedImage): number {
  const c = ref.channels;
  let worst = 0;
  for (let p = 0; p < web.width * web.height; p++) {
    const px = [web.data[4 * p], web.data[4 * p + 1], web.data[4 * p + 2], web.data[4 * p + 3]];
    const want = c === 1 ? [ref.pixels[p], ref.pixels[p], ref.pixels[p], 255]
      : c === 2 ? [ref.pixels[2 * p], ref.pixels[2 * p], ref.pixels[2 * p], ref.pixels[2 * p + 1]]
      : c === 3 ? [ref.pixels[3 * p], ref.pixels[3 * p + 1], ref.pixels[3 * p + 2], 255]
      : [ref.pixels[4 * p], ref.pixels[4 * p + 1], ref.pixels[4 * p + 2], ref.pixels[4 * p + 3]];
    for (let i = 0; i < 4; i++) worst = Math.max(worst, Math.abs(px[i] - want[i]));
  }
  return worst;
}

/** The Node codec on the family's quality-5 member (the reference for `files`). */
let codec: DqCodec;
let decoder: WebDecoder;
const files: Record<'rgb' | 'grey' | 'rgba', Uint8Array> = {} as never;
let rgbPng: Buffer;

beforeAll(async () => {
  codec = await DqCodec.load(memberDir(5), { threads: 1 });
  // A 200×120 crop (not a multiple of the stride 16: exercises padding and cropping).
  const crop = sharp(join(root, 'samples/ladybird.png')).extract({ left: 300, top: 180, width: 200, height: 120 });
  const rgb = await crop.clone().png().toBuffer();
  const grey = await crop.clone().greyscale().toColourspace('b-w').png().toBuffer();
  const { data, info } = await crop.clone().ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  for (let y = 0; y < info.height; y++) for (let x = 0; x < info.width; x++) data[(y * info.width + x) * 4 + 3] = (x * 255) / (info.width - 1);
  const rgba = await sharp(data, { raw: { width: info.width, height: info.height, channels: 4 } }).png().toBuffer();
  rgbPng = rgb;
  files.rgb = await codec.encode(rgb);
  files.grey = await codec.encode(grey);
  files.rgba = await codec.encode(rgba);
  decoder = await open();
});

afterAll(async () => {
  await decoder?.dispose();
  await codec?.close();
});

describe('WebDecoder (onnxruntime-web WASM, in Node) against the Node codec', () => {
  it('decodes RGB, grey and RGBA files to the same pixels', async () => {
    expect(decoder.provider).toBe('wasm');
    expect(decoder.fallbackReason).toBeNull();
    expect(decoder.family?.name).toBe(family.name);
    expect([decoder.manifest, decoder.info]).toEqual([null, null]);
    for (const [kind, channels] of [['rgb', 3], ['grey', 1], ['rgba', 4]] as const) {
      const web = await decoder.decode(files[kind]);
      const ref = await codec.decode(files[kind]);
      expect(ref.channels).toBe(channels);
      expect([web.width, web.height, web.channels, web.data.length]).toEqual([200, 120, channels, 200 * 120 * 4]);
      expect(web.levelsUsed).toBe(2);
      expect(web.final).toBe(true);
      expect(web.fileBytes).toBe(files[kind].length);
      expect(web.bpp).toBeCloseTo((files[kind].length * 8) / (200 * 120), 9);
      // Same graph, two builds of onnxruntime: at most a rounding step apart.
      expect(maxDiff(web, ref), kind).toBeLessThanOrEqual(1);
      expect(web.model).toMatchObject({ name: codec.manifest.name, fingerprint: codec.manifest.fingerprint, quality: 5 });
    }
  });

  it('family: picks the member by fingerprint, loads each member once and only when needed', async () => {
    const log: { path: string; bytes: number }[] = [];
    const d = await open({ fetch: diskFetch(familyDir, {}, log) });
    try {
      expect(log.map((l) => l.path)).toEqual(['family.json']); // nothing else until a file comes
      const qualities = [2, 5, 9];
      const encoded: Record<number, { bytes: Uint8Array; ref: DecodedImage }> = {};
      for (const q of qualities) {
        const c = q === 5 ? codec : await DqCodec.load(memberDir(q), { threads: 1 });
        const bytes = await c.encode(rgbPng);
        encoded[q] = { bytes, ref: await c.decode(bytes) };
        if (c !== codec) await c.close();
      }
      for (const q of [...qualities, ...qualities]) {
        const r = await d.decode(encoded[q].bytes);
        expect(r.model.quality).toBe(q);
        expect(r.model.fingerprint).toBe(family.qualities[q - 1].fingerprint);
        expect(maxDiff(r, encoded[q].ref), `quality ${q}`).toBeLessThanOrEqual(1);
      }
      // Higher quality, bigger file.
      expect(encoded[2].bytes.length).toBeLessThan(encoded[9].bytes.length);
      const fetched = log.map((l) => l.path);
      expect(fetched).toEqual(['family.json', ...qualities.flatMap((q) => [`${family.qualities[q - 1].dir}/manifest.json`, `${family.qualities[q - 1].dir}/decoder.onnx`])]);
      const perMember = log.filter((l) => l.path.startsWith(family.qualities[4].dir)).reduce((n, l) => n + l.bytes, 0);
      console.log(`[web] family decode: family.json ${log[0].bytes} B, then per member used ${perMember} B (manifest.json + decoder.onnx); 3 qualities decoded → ${log.length - 1} member files, ${log.reduce((n, l) => n + l.bytes, 0)} B in all`);
      // The same through decodeProgressive (stream and Blob): the member is picked from the header as it arrives.
      const viaBlob = await d.decodeProgressive(new Blob([encoded[9].bytes as Uint8Array<ArrayBuffer>]));
      expect(viaBlob.model.quality).toBe(9);
      expect(log.length).toBe(7);
    } finally {
      await d.dispose();
    }
  });

  it('family: accepts the family.json URL and the directory without its trailing slash', async () => {
    const modelsDir = join(familyDir, '..');
    for (const model of [`${MODELS_URL}default`, `${MODELS_URL}default/family.json`]) {
      const log: { path: string; bytes: number }[] = [];
      const d = await createDecoder({ model, provider: 'wasm', ort, numThreads: 1, fetch: diskFetch(modelsDir, {}, log) });
      expect(d.family?.name).toBe(family.name);
      expect((await d.decode(files.grey)).model.quality).toBe(5);
      expect(log.map((l) => l.path)).toEqual(['default/family.json', 'default/dqc-tc-q5/manifest.json', 'default/dqc-tc-q5/decoder.onnx']);
      await d.dispose();
    }
    // A manifest.json URL is a single model, fetched directly.
    const log: { path: string; bytes: number }[] = [];
    const d = await createDecoder({ model: `${MODELS_URL}default/dqc-tc-q5/manifest.json`, provider: 'wasm', ort, numThreads: 1, fetch: diskFetch(modelsDir, {}, log) });
    expect([d.family, d.info?.name, log.length]).toEqual([null, 'dqc-tc-q5', 2]);
    await d.dispose();
  });

  it('a single model directory (the DQ-AE) still works: two requests to find it (family.json, then manifest.json)', async () => {
    const dq = await DqCodec.load(dqAeDir, { threads: 1 });
    try {
      const bytes = await dq.encode(rgbPng);
      const log: { path: string; bytes: number }[] = [];
      const d = await openDqAe({ fetch: diskFetch(dqAeDir, {}, log) });
      expect(log.map((l) => [l.path, l.bytes > 0])).toEqual([['family.json', false], ['manifest.json', true], ['decoder.onnx', true]]);
      expect(d.family).toBeNull();
      expect(d.info?.fingerprint).toBe(dq.manifest.fingerprint);
      const seen: number[] = [];
      const r = await d.decode(bytes, { onProgress: (x) => seen.push(x.levelsUsed) });
      expect(seen).toEqual([1, 2]);
      expect(r.model.quality).toBeUndefined();
      expect(maxDiff(r, await dq.decode(bytes))).toBeLessThanOrEqual(1);
      // A family decoder refuses the DQ-AE's file, naming the family.
      const e = await rejection(decoder.decode(bytes));
      expect(e.code).toBe('MODEL_MISMATCH');
      expect(e.message).toMatch(new RegExp(`model family ${family.name}`));
      await d.dispose();
    } finally {
      await dq.close();
    }
  });

  it('reports the top-level preview first, then the full image', async () => {
    const seen: DecodeResult[] = [];
    const final = await decoder.decode(files.rgb, { onProgress: (r) => seen.push(r) });
    expect(seen.map((r) => [r.levelsUsed, r.final])).toEqual([[1, false], [2, true]]);
    expect(seen[1]).toBe(final);
    expect(maxDiff(seen[0], await codec.decode(files.rgb, { levels: 1 }))).toBeLessThanOrEqual(1);
    expect(seen[0].ms).toBeLessThanOrEqual(final.ms);
    const one = await decoder.decode(files.rgb, { levels: 1, onProgress: (r) => seen.push(r) });
    expect(seen.length).toBe(3); // a 1-level decode has no separate preview
    expect(one.levelsUsed).toBe(1);
  });

  it('starts the preview while a stream is still arriving', async () => {
    const bytes = files.rgba;
    const top = decoder.readHeader(bytes).levels[0];
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      async pull(c) {
        if (sent >= bytes.length) return c.close();
        await new Promise((r) => setTimeout(r, 1));
        const n = Math.min(97, bytes.length - sent);
        c.enqueue(bytes.slice(sent, sent + n));
        sent += n;
      },
    });
    const events: { levels: number; sentAt: number }[] = [];
    const r = await decoder.decodeProgressive(stream, { onProgress: (x) => events.push({ levels: x.levelsUsed, sentAt: sent }) });
    expect(events.map((e) => e.levels)).toEqual([1, 2]);
    expect(top.streamOffset + top.streamLength).toBeLessThan(bytes.length);
    expect(events[0].sentAt).toBeLessThan(bytes.length); // the preview came before the file was complete
    expect(maxDiff(r, await codec.decode(bytes))).toBeLessThanOrEqual(1);
    // Blobs and Responses work too.
    const viaBlob = await decoder.decodeProgressive(new Blob([bytes as Uint8Array<ArrayBuffer>]));
    expect(viaBlob.data).toEqual(r.data);
    const viaResponse = await decoder.decodeProgressive(new Response(bytes as Uint8Array<ArrayBuffer>));
    expect(viaResponse.data).toEqual(r.data);
  });

  it('gives the same image tiled as untiled', async () => {
    const tiled = await open({ tileSize: 64 });
    try {
      const a = await tiled.decode(files.rgb);
      const b = await decoder.decode(files.rgb);
      let worst = 0;
      for (let i = 0; i < a.data.length; i++) worst = Math.max(worst, Math.abs(a.data[i] - b.data[i]));
      expect(worst).toBeLessThanOrEqual(1);
    } finally {
      await tiled.dispose();
    }
  });

  it('accepts a single model as files', async () => {
    const d = await createDecoder({
      model: { manifest: readFileSync(join(memberDir(5), 'manifest.json'), 'utf8'), decoder: readFileSync(join(memberDir(5), 'decoder.onnx')) },
      provider: 'wasm',
      ort,
    });
    expect((await d.decode(files.grey)).data).toEqual((await decoder.decode(files.grey)).data);
    await d.dispose();
  });
});

async function rejection(p: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await p;
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('expected a rejection');
}

describe('WebDecoder errors (all reject, none hang)', () => {
  it('refuses corrupted, truncated and foreign files with DqcErrors', async () => {
    const bad = files.rgb.slice();
    bad[bad.length - 5] ^= 0x40; // inside the bottom level's stream
    const e1 = await rejection(decoder.decode(bad));
    expect(isDqcError(e1, 'STREAM_CRC'), e1.message).toBe(true);
    const hdr = files.rgb.slice();
    hdr[20] ^= 1;
    expect((await rejection(decoder.decode(hdr))).code).toBe('HEADER_CRC');
    expect((await rejection(decoder.decode(files.rgb.subarray(0, files.rgb.length - 10)))).code).toBe('TRUNCATED');
    expect((await rejection(decoder.decodeProgressive(new Blob([files.rgb.subarray(0, 100) as Uint8Array<ArrayBuffer>])))).code).toBe('TRUNCATED');
    expect((await rejection(decoder.decode(new TextEncoder().encode('GIF89a, not a dqc file')))).code).toBe('BAD_MAGIC');

    // A well-formed file from another model (another fingerprint): refused before any decoding.
    const h = decoder.readHeader(files.rgb);
    const levels = h.levels.map(({ M, h: hh, w, K }) => ({ M, h: hh, w, K, indices: new Uint16Array(M * hh * w) }));
    const foreign = encodeIndices(levels, { fingerprint: 'f'.repeat(64), width: h.width, height: h.height, channels: 3, paddedWidth: h.paddedWidth, paddedHeight: h.paddedHeight }, codec.manifest.entropy);
    const e2 = await rejection(decoder.decode(foreign));
    expect(e2.code).toBe('MODEL_MISMATCH');
    expect(e2.message).toMatch(/another model \(fingerprint ffffffff.*model family dqc-tc/);
    expect((await rejection(decoder.decodeProgressive(new Blob([foreign as Uint8Array<ArrayBuffer>])))).code).toBe('MODEL_MISMATCH');
  });

  it('refuses bad arguments', async () => {
    expect((await rejection(decoder.decode(files.rgb, { levels: 3 }))).code).toBe('BAD_ARGUMENT');
    expect((await rejection(decoder.decode('x' as unknown as Uint8Array))).code).toBe('BAD_ARGUMENT');
    expect((await rejection(createDecoder({ model: MODELS_URL, provider: 'gpu' as 'wasm', ort }))).code).toBe('BAD_ARGUMENT');
    expect((await rejection(open({ limits: { maxPixels: 0 } }))).code).toBe('BAD_ARGUMENT');
    expect((await rejection(open({ limits: { maxIndices: 1.5 } }))).code).toBe('BAD_ARGUMENT');
    const ac = new AbortController();
    ac.abort();
    expect((await rejection(decoder.decode(files.rgb, { signal: ac.signal }))).code).toBe('ABORTED');
  });

  it('family: a decode aborted while its member loads rejects ABORTED; the member still loads once for the next file', async () => {
    const log: { path: string; bytes: number }[] = [];
    const inner = diskFetch(familyDir, {}, log);
    const slow = (async (input: RequestInfo | URL, init?: RequestInit) => {
      if (String(input).endsWith('decoder.onnx')) await new Promise((r) => setTimeout(r, 200));
      return inner(input, init);
    }) as typeof fetch;
    const d = await open({ fetch: slow });
    const ac = new AbortController();
    const first = d.decode(files.rgb, { signal: ac.signal });
    setTimeout(() => ac.abort(), 20);
    expect((await rejection(first)).code).toBe('ABORTED');
    expect((await d.decode(files.rgb)).model.quality).toBe(5);
    expect(log.filter((l) => l.path.endsWith('decoder.onnx')).length).toBe(1);
    await d.dispose();
  });

  it('refuses images over the pixel limit before decoding (2^26 by default, as in Node)', async () => {
    // A well-formed header that claims 9000×8000 (72 MP): over 2^26 but within the format's 2^28.
    const m = parseManifest(JSON.parse(readFileSync(join(memberDir(5), 'manifest.json'), 'utf8')));
    const S = m.totalStride;
    const big = { width: 9000, height: 8000, paddedWidth: 9008, paddedHeight: 8000 };
    const levels = m.levels.slice().reverse().map(({ M, K, stride }) => ({ M, K, h: big.paddedHeight / stride, w: big.paddedWidth / stride }));
    expect(big.paddedWidth % S).toBe(0);
    const header = writeContainer({ fingerprint: m.fingerprint, ...big, channels: 3, method: 'context', tablesCrc: 0, levels }, levels.map(() => new Uint8Array(0)));
    const e = await rejection(decoder.decode(header));
    expect(e.code).toBe('ABSURD_SIZE');
    const small = await open({ limits: { maxPixels: 100 * 100 } });
    expect((await rejection(small.decode(files.rgb))).code).toBe('ABSURD_SIZE');
    await small.dispose();
  });

  it('rejects a WebGPU request where there is no WebGPU, and auto falls back to WASM', async () => {
    const e = await rejection(open({ provider: 'webgpu' }));
    expect(isWebDecoderError(e, 'WEBGPU_UNAVAILABLE'), e.message).toBe(true);
    expect(e.message).toMatch(/navigator\.gpu|adapter/);
    const auto = await open({ provider: 'auto' });
    expect(auto.provider).toBe('wasm');
    expect(auto.fallbackReason).toMatch(/navigator\.gpu/);
    await auto.dispose();
  });

  it('reports problems of a single model (the DQ-AE) clearly', async () => {
    const modelDir = dqAeDir;
    const open = openDqAe;
    const missing = await rejection(open({ fetch: diskFetch(modelDir, { 'manifest.json': 404 }) }));
    expect(missing.code).toBe('MODEL_FETCH');
    expect(missing.message).toMatch(/manifest\.json.*HTTP 404.*nor a family\.json/);
    const notJson = await rejection(open({ fetch: diskFetch(modelDir, { 'manifest.json': '<html>' }) }));
    expect(notJson.code).toBe('BAD_MANIFEST');
    const manifest = JSON.parse(readFileSync(join(modelDir, 'manifest.json'), 'utf8'));
    const short = await rejection(open({ fetch: diskFetch(modelDir, { 'decoder.onnx': readFileSync(join(modelDir, 'decoder.onnx')).subarray(0, 1000) }) }));
    expect(short.code).toBe('MODEL_INVALID');
    // Same size, one byte flipped: the shipped manifest's hashes.decoder catches it.
    expect(manifest.hashes?.decoder).toMatch(/^[0-9a-f]{64}$/);
    const flipped = new Uint8Array(readFileSync(join(modelDir, 'decoder.onnx')));
    flipped[flipped.length >> 1] ^= 0x01;
    const damaged = await rejection(open({ fetch: diskFetch(modelDir, { 'decoder.onnx': flipped }) }));
    expect(damaged.code).toBe('MODEL_INVALID');
    expect(damaged.message).toMatch(/does not match the manifest's SHA-256/);
    const renamed = { ...manifest, io: { ...manifest.io, decoder: { inputs: ['a', 'b', 'levelMask'], outputs: ['reconstruction'] } } };
    const e = await rejection(open({ fetch: diskFetch(modelDir, { 'manifest.json': JSON.stringify(renamed) }) }));
    expect(e.code).toBe('MODEL_INVALID');
    expect(e.message).toMatch(/lacks the tensors a, b/);
    const garbage = { ...manifest, sizes: { ...manifest.sizes, decoder: 5 }, hashes: undefined }; // a graph that passes the checks but is no ONNX
    const g = await rejection(open({ fetch: diskFetch(modelDir, { 'manifest.json': JSON.stringify(garbage), 'decoder.onnx': 'hello' }) }));
    expect(g.code).toBe('SESSION_FAILED');
    const disposed = await open();
    await disposed.dispose();
    expect((await rejection(disposed.decode(files.rgb))).code).toBe('ABORTED');
  });

  it('reports a damaged or inconsistent family clearly', async () => {
    const json = readFileSync(join(familyDir, 'family.json'), 'utf8');
    const parsed = JSON.parse(json);
    const notJson = await rejection(open({ fetch: diskFetch(familyDir, { 'family.json': json.slice(0, 200) }) }));
    expect(notJson.code).toBe('BAD_MANIFEST');
    expect(notJson.message).toMatch(/family\.json of http:\/\/models\.test\/ is not valid JSON/);
    const badField = await rejection(open({ fetch: diskFetch(familyDir, { 'family.json': JSON.stringify({ ...parsed, qualities: parsed.qualities.map((m: object, i: number) => (i === 3 ? { ...m, fingerprint: 'XYZ' } : m)) }) }) }));
    expect(badField.code).toBe('BAD_MANIFEST');
    expect(badField.message).toMatch(/family\.json: field qualities\[3\]\.fingerprint .*\(model family http:\/\/models\.test\/\)/);
    const viaFile = await rejection(createDecoder({ model: `${MODELS_URL}family.json`, provider: 'wasm', ort, fetch: diskFetch(familyDir, { 'family.json': '{"format":"dqc-family","version":2}' }) }));
    expect(viaFile.code).toBe('BAD_MANIFEST');
    expect(viaFile.message).toMatch(/family\.json: field version must be 1/);
    // A family.json whose member directory holds another export: found when that member is loaded, and retried on the next file.
    const swapped = { ...parsed, qualities: parsed.qualities.map((m: { dir: string }, i: number) => (i === 4 ? { ...m, dir: parsed.qualities[5].dir } : m)) };
    const log: { path: string; bytes: number }[] = [];
    const d = await open({ fetch: diskFetch(familyDir, { 'family.json': JSON.stringify(swapped) }, log) });
    const e = await rejection(d.decode(files.rgb));
    expect(e.code).toBe('MODEL_INVALID');
    expect(e.message).toMatch(/quality 5 of model family dqc-tc.*fingerprint .* is not the .* family\.json lists/);
    expect((await rejection(d.decode(files.rgb))).code).toBe('MODEL_INVALID');
    expect(log.filter((l) => l.path.endsWith('manifest.json')).length).toBe(2);
    // A member missing on the server.
    const gone = await open({ fetch: diskFetch(familyDir, { [`${family.qualities[4].dir}/decoder.onnx`]: 404 }) });
    const f = await rejection(gone.decode(files.rgb));
    expect(f.code).toBe('MODEL_FETCH');
    expect(f.message).toMatch(/dqc-tc-q5\/decoder\.onnx: HTTP 404/);
    await Promise.all([d.dispose(), gone.dispose()]);
  });
});
