/**
 * @dqcodec/web's decoder, run in Node on onnxruntime-web's own WASM runtime (its Node build,
 * injected through the `ort` option), against the Node codec (onnxruntime-node) on the same files:
 * the same pixels, progressive previews, streaming, tiling, and every error path. The real-browser
 * test (WebGPU and WASM in Chromium) is test/browser/web.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import * as ortWeb from 'onnxruntime-web';
import { DqCodec, encodeIndices, isDqcError, writeContainer, type DecodedImage } from '@dqcodec/codec';
import { createDecoder, isWebDecoderError, WebDecoder, type DecodeResult, type Ort } from '../src/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const modelDir = join(root, 'models/default');
const ortDist = `${dirname(createRequire(import.meta.url).resolve('onnxruntime-web'))}/`;
const ort = ortWeb as unknown as Ort;

/** fetch() over the model directory on disk (the decoder fetches manifest.json and decoder.onnx). */
function diskFetch(dir: string, override: Record<string, Uint8Array | string | number> = {}): typeof fetch {
  return (async (input: RequestInfo | URL) => {
    const url = new URL(String(input instanceof Request ? input.url : input));
    const name = url.pathname.split('/').pop() ?? '';
    const o = override[name];
    if (typeof o === 'number') return new Response('nope', { status: o });
    if (o !== undefined) return new Response(o as BodyInit);
    try {
      return new Response(readFileSync(join(dir, name)));
    } catch {
      return new Response('not found', { status: 404, statusText: 'Not Found' });
    }
  }) as typeof fetch;
}

const MODEL_URL = 'http://models.test/default/';

function open(extra: Partial<Parameters<typeof createDecoder>[0]> = {}): Promise<WebDecoder> {
  return createDecoder({ model: MODEL_URL, provider: 'wasm', ort, wasmPaths: ortDist, numThreads: 1, fetch: diskFetch(modelDir), ...extra });
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

let codec: DqCodec;
let decoder: WebDecoder;
const files: Record<'rgb' | 'grey' | 'rgba', Uint8Array> = {} as never;

beforeAll(async () => {
  codec = await DqCodec.load(modelDir, { threads: 1 });
  // A 200×120 crop (not a multiple of the stride 16: exercises padding and cropping).
  const crop = sharp(join(root, 'samples/ladybird.png')).extract({ left: 300, top: 180, width: 200, height: 120 });
  const rgb = await crop.clone().png().toBuffer();
  const grey = await crop.clone().greyscale().toColourspace('b-w').png().toBuffer();
  const { data, info } = await crop.clone().ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  for (let y = 0; y < info.height; y++) for (let x = 0; x < info.width; x++) data[(y * info.width + x) * 4 + 3] = (x * 255) / (info.width - 1);
  const rgba = await sharp(data, { raw: { width: info.width, height: info.height, channels: 4 } }).png().toBuffer();
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

  it('accepts the model as files', async () => {
    const d = await createDecoder({
      model: { manifest: readFileSync(join(modelDir, 'manifest.json'), 'utf8'), decoder: readFileSync(join(modelDir, 'decoder.onnx')) },
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
    const foreign = encodeIndices(levels, { fingerprint: 'f'.repeat(64), width: h.width, height: h.height, channels: 3, paddedWidth: h.paddedWidth, paddedHeight: h.paddedHeight }, decoder.manifest.entropy);
    const e2 = await rejection(decoder.decode(foreign));
    expect(e2.code).toBe('MODEL_MISMATCH');
    expect(e2.message).toMatch(/another model/);
    expect((await rejection(decoder.decodeProgressive(new Blob([foreign as Uint8Array<ArrayBuffer>])))).code).toBe('MODEL_MISMATCH');
  });

  it('refuses bad arguments', async () => {
    expect((await rejection(decoder.decode(files.rgb, { levels: 3 }))).code).toBe('BAD_ARGUMENT');
    expect((await rejection(decoder.decode('x' as unknown as Uint8Array))).code).toBe('BAD_ARGUMENT');
    expect((await rejection(createDecoder({ model: MODEL_URL, provider: 'gpu' as 'wasm', ort }))).code).toBe('BAD_ARGUMENT');
    expect((await rejection(open({ limits: { maxPixels: 0 } }))).code).toBe('BAD_ARGUMENT');
    expect((await rejection(open({ limits: { maxIndices: 1.5 } }))).code).toBe('BAD_ARGUMENT');
    const ac = new AbortController();
    ac.abort();
    expect((await rejection(decoder.decode(files.rgb, { signal: ac.signal }))).code).toBe('ABORTED');
  });

  it('refuses images over the pixel limit before decoding (2^26 by default, as in Node)', async () => {
    // A well-formed header that claims 9000×8000 (72 MP): over 2^26 but within the format's 2^28.
    const S = decoder.manifest.totalStride;
    const big = { width: 9000, height: 8000, paddedWidth: 9008, paddedHeight: 8000 };
    const levels = decoder.manifest.levels.slice().reverse().map(({ M, K, stride }) => ({ M, K, h: big.paddedHeight / stride, w: big.paddedWidth / stride }));
    expect(big.paddedWidth % S).toBe(0);
    const header = writeContainer({ fingerprint: decoder.manifest.fingerprint, ...big, channels: 3, method: 'context', tablesCrc: 0, levels }, levels.map(() => new Uint8Array(0)));
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

  it('reports model problems clearly', async () => {
    const missing = await rejection(open({ fetch: diskFetch(modelDir, { 'manifest.json': 404 }) }));
    expect(missing.code).toBe('MODEL_FETCH');
    expect(missing.message).toMatch(/manifest\.json.*HTTP 404/);
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
});
