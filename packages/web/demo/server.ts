/**
 * The demo's tiny static server (Node only; also used by the browser test):
 *
 *   /                      the built demo (demo/dist, from `vite build`)
 *   /model/…               manifest.json and the decoder graph of a model directory; for a model
 *                          family (models/default), family.json and each member's manifest.json
 *                          and decoder graph (nothing else)
 *   /samples/index.json    the sample list; /samples/<name>.dqc and the originals /samples/<name>.png
 *   …                      `extra` files (tests)
 *
 * The samples are the repository's samples/*.png encoded with the model (a family's default
 * member) by the Node codec, cached
 * under node_modules/.cache/dqcodec-web-demo/<fingerprint>/. `?slow=1` on a .dqc sends it in small
 * chunks with pauses, to watch the progressive preview arrive before the rest of the file.
 * Pages are served cross-origin isolated (COOP/COEP) so that onnxruntime-web may use WASM threads.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { basename, dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { familyMember, parseFamily } from '@dqcodec/core';

export const demoDir = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(demoDir, '../../..');
export const defaultModelDir = join(repoRoot, 'models/default');
export const defaultSampleImages = join(repoRoot, 'samples');

/** The model directory the Node codec encodes with: the directory itself, or a family's default member. */
export function encodingModelDir(modelDir: string): string {
  const familyPath = join(modelDir, 'family.json');
  if (!existsSync(familyPath)) return modelDir;
  const family = parseFamily(JSON.parse(readFileSync(familyPath, 'utf8')));
  return join(modelDir, familyMember(family).dir);
}

/** The files the browser may fetch from a model (or model family) directory, relative to it. */
export function browserModelFiles(modelDir: string): Set<string> {
  const graphOf = (dir: string): string => (JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { graphs?: { decoder?: string } }).graphs?.decoder ?? 'decoder.onnx';
  const familyPath = join(modelDir, 'family.json');
  if (!existsSync(familyPath)) return new Set(['manifest.json', graphOf(modelDir)]);
  const family = parseFamily(JSON.parse(readFileSync(familyPath, 'utf8')));
  const files = new Set(['family.json']);
  for (const m of family.qualities) {
    files.add(`${m.dir}/manifest.json`);
    files.add(`${m.dir}/${graphOf(join(modelDir, m.dir))}`);
  }
  return files;
}

export interface SampleFile {
  name: string;
  /** URL paths, relative to the page. */
  dqc: string;
  original?: string;
  width: number;
  height: number;
  bytes: number;
  /** Where the files are on disk. */
  dqcPath: string;
  originalPath?: string;
}

/** Build the demo with Vite (demo/vite.config.ts) into demo/dist; returns that directory. */
export async function buildDemo(): Promise<string> {
  const { build } = await import('vite');
  await build({ configFile: join(demoDir, 'vite.config.ts'), logLevel: 'warn' });
  return join(demoDir, 'dist');
}

/**
 * Encode every PNG/JPEG in `imageDir` with the model (Node codec, onnxruntime-node), once: the
 * .dqc files are cached per model fingerprint.
 */
export async function prepareSamples(modelDir = defaultModelDir, imageDir = defaultSampleImages, cacheRoot = join(repoRoot, 'node_modules/.cache/dqcodec-web-demo')): Promise<SampleFile[]> {
  modelDir = encodingModelDir(modelDir);
  const manifest = JSON.parse(readFileSync(join(modelDir, 'manifest.json'), 'utf8')) as { fingerprint: string };
  const cache = join(cacheRoot, manifest.fingerprint.slice(0, 16));
  mkdirSync(cache, { recursive: true });
  const images = existsSync(imageDir) ? readdirSync(imageDir).filter((f) => /\.(png|jpe?g|webp)$/i.test(f)).sort() : [];
  const out: SampleFile[] = [];
  let codec: import('@dqcodec/codec').DqCodec | null = null;
  try {
    for (const file of images) {
      const name = basename(file, extname(file));
      const src = join(imageDir, file);
      const dqcPath = join(cache, `${name}.dqc`);
      const metaPath = join(cache, `${name}.json`);
      const stamp = `${statSync(src).size}:${statSync(src).mtimeMs}`;
      let meta = existsSync(metaPath) && existsSync(dqcPath) ? (JSON.parse(readFileSync(metaPath, 'utf8')) as { stamp: string; width: number; height: number }) : null;
      if (!meta || meta.stamp !== stamp) {
        if (!codec) {
          const { DqCodec } = await import('@dqcodec/codec');
          codec = await DqCodec.load(modelDir);
        }
        const r = await codec.encodeImage(src);
        writeFileSync(dqcPath, r.bytes);
        meta = { stamp, width: r.width, height: r.height };
        writeFileSync(metaPath, JSON.stringify(meta));
      }
      out.push({
        name,
        dqc: `samples/${name}.dqc`,
        original: `samples/${file}`,
        width: meta.width,
        height: meta.height,
        bytes: statSync(dqcPath).size,
        dqcPath,
        originalPath: src,
      });
    }
  } finally {
    await codec?.close();
  }
  return out;
}

export interface DemoServerOptions {
  /** Default 0 (any free port). */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** The built page (default demo/dist). */
  distDir?: string;
  /** Model or model family directory served under /model/ (default models/default, a family). */
  modelDir?: string;
  samples?: SampleFile[];
  /** More files by URL path, e.g. { '/test/page.html': '…' } or a file path via { path }. */
  extra?: Record<string, string | Uint8Array | { path: string }>;
  /** More directories by URL prefix, e.g. { '/ort/': node_modules/onnxruntime-web/dist }. */
  dirs?: Record<string, string>;
  /** Send COOP/COEP headers (default true). */
  crossOriginIsolated?: boolean;
  /** Close the server after this many ms whatever happens (default: never). */
  lifetimeMs?: number;
  /** gzip responses for clients that accept it (default true), as a production server would. */
  compress?: boolean;
  /** Called for every request (URL path, status, bytes sent on the wire, bytes before compression). */
  onRequest?: (path: string, status: number, bytes: number, rawBytes: number) => void;
}

export interface DemoServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.map': 'application/json',
};

/** A path under `dir` for a URL sub-path, or null if it would escape it or does not exist. */
function inside(dir: string, sub: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(sub);
  } catch {
    return null;
  }
  const p = normalize(join(dir, decoded));
  if (p !== dir && !p.startsWith(dir.endsWith(sep) ? dir : dir + sep)) return null;
  return existsSync(p) && statSync(p).isFile() ? p : null;
}

export async function startDemoServer(opts: DemoServerOptions = {}): Promise<DemoServer> {
  const dist = resolve(opts.distDir ?? join(demoDir, 'dist'));
  const modelDir = resolve(opts.modelDir ?? defaultModelDir);
  const modelFiles = browserModelFiles(modelDir);
  const samples = opts.samples ?? [];
  const isolate = opts.crossOriginIsolated ?? true;
  const dirs = Object.entries(opts.dirs ?? {}).map(([prefix, dir]) => [prefix, resolve(dir)] as const);
  const compress = opts.compress ?? true;
  /** gzip (zlib's default level 6) of served bodies, by path and size; .dqc files and images are compressed already. */
  const gzipped = new Map<string, Buffer>();
  const compressible = (type: string): boolean => /^(text\/|application\/(json|wasm|octet-stream))/.test(type);

  function lookup(path: string): { body: Uint8Array | string; type: string; file?: string } | null {
    const extra = opts.extra?.[path];
    if (extra !== undefined) {
      const body = typeof extra === 'object' && 'path' in extra ? readFileSync(extra.path) : extra;
      return { body, type: TYPES[extname(path)] ?? 'application/octet-stream' };
    }
    if (path.startsWith('/model/')) {
      const name = path.slice('/model/'.length);
      if (!modelFiles.has(name)) return null;
      return { body: readFileSync(join(modelDir, name)), type: TYPES[extname(name)] ?? 'application/octet-stream' };
    }
    if (path === '/samples/index.json') {
      const list = samples.map(({ name, dqc, original, width, height, bytes }) => ({ name, dqc, original, width, height, bytes }));
      return { body: JSON.stringify(list), type: TYPES['.json'] };
    }
    if (path.startsWith('/samples/')) {
      const name = path.slice('/samples/'.length);
      for (const s of samples) {
        if (s.dqc === `samples/${name}`) return { body: readFileSync(s.dqcPath), type: 'application/octet-stream', file: name };
        if (s.original === `samples/${name}` && s.originalPath) return { body: readFileSync(s.originalPath), type: TYPES[extname(name)] ?? 'application/octet-stream' };
      }
      return null;
    }
    for (const [prefix, dir] of dirs) {
      if (path.startsWith(prefix)) {
        const p = inside(dir, path.slice(prefix.length));
        return p ? { body: readFileSync(p), type: TYPES[extname(p)] ?? 'application/octet-stream' } : null;
      }
    }
    const p = inside(dist, path === '/' ? 'index.html' : path.slice(1));
    return p ? { body: readFileSync(p), type: TYPES[extname(p)] ?? 'application/octet-stream' } : null;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    const found = req.method === 'GET' || req.method === 'HEAD' ? lookup(path) : null;
    if (isolate) {
      res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
      res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
    }
    res.setHeader('Cache-Control', 'no-store');
    if (!found) {
      res.statusCode = req.method === 'GET' || req.method === 'HEAD' ? 404 : 405;
      res.end('not found');
      opts.onRequest?.(path, res.statusCode, 0, 0);
      return;
    }
    const body = typeof found.body === 'string' ? Buffer.from(found.body) : found.body;
    res.setHeader('Content-Type', found.type);
    if (found.file && url.searchParams.has('slow')) {
      // Chunked, with pauses: the client sees the header and the top level long before the rest.
      for (let i = 0; i < body.length && !res.destroyed; i += 2048) {
        res.write(body.subarray(i, i + 2048));
        await new Promise((r) => setTimeout(r, 40));
      }
      res.end();
      opts.onRequest?.(path, 200, body.length, body.length);
      return;
    }
    let sent: Uint8Array = body;
    if (compress && !found.file && compressible(found.type) && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
      const key = `${path}:${body.length}`;
      let gz = gzipped.get(key);
      if (!gz) {
        gz = gzipSync(body);
        gzipped.set(key, gz);
      }
      sent = gz;
      res.setHeader('Content-Encoding', 'gzip');
      res.setHeader('Vary', 'Accept-Encoding');
    }
    res.setHeader('Content-Length', sent.length);
    res.end(req.method === 'HEAD' ? undefined : sent);
    opts.onRequest?.(path, 200, sent.length, body.length);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) res.statusCode = 500;
      res.end(String(e));
    });
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => ok());
  });
  const port = (server.address() as AddressInfo).port;
  let closed: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closed ??= new Promise<void>((ok) => {
      server.close(() => ok());
      server.closeAllConnections();
    });
    return closed;
  };
  if (opts.lifetimeMs) setTimeout(() => void close(), opts.lifetimeMs).unref();
  return { url: `http://${opts.host ?? '127.0.0.1'}:${port}/`, port, close };
}
