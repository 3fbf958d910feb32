/**
 * The packages as a developer gets them: `npm pack` every package (prepack builds dist/), install
 * the tarballs into fresh projects outside the repository (the npm registry is the only network),
 * and there
 *  - run `dqcodec encode` / `decode` through the installed bin (Node project);
 *  - build a Vite app made from create-vite's vanilla-ts template that imports @dqcodec/web:
 *    `tsc --noEmit` under the template's strict tsconfig, then `vite build`;
 *  - decode the CLI's .dqc in headless Chromium from the built app (main thread and Worker), with
 *    the shipped model family served as a static directory (family.json, then the one member the
 *    file needs);
 *  - check that the app's install has no onnxruntime-node, sharp or protobufjs of ours.
 */
import { execFileSync, type ExecFileSyncOptions } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readHeader } from '@dqcodec/core';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const root = fileURLToPath(new URL('../../', import.meta.url));
const PACKAGES = ['packages/core', 'packages/codec', 'packages/web', 'cli'];
const SAMPLE = join(root, 'samples/evening-glow.png');

// The repository's npm settings must not leak into the fresh projects: NODE_OPTIONS carries the
// workspace's "@dqcodec/source" condition (.npmrc), npm_config_* the repository's config.
const cleanEnv: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_OPTIONS' && !k.toLowerCase().startsWith('npm_')));

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = cleanEnv): string {
  const opts: ExecFileSyncOptions = { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 };
  try {
    return execFileSync(cmd, args, opts) as string;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
}

const npmInstall = ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'];

/** create-vite's vanilla-ts template (Vite 7, TypeScript 5.9), with a main.ts that decodes /photo.dqc. */
function writeViteApp(dir: string): void {
  mkdirSync(join(dir, 'src'), { recursive: true });
  const devDeps = JSON.parse(readFileSync(join(root, 'packages/web/package.json'), 'utf8')).devDependencies as Record<string, string>;
  const rootDeps = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).devDependencies as Record<string, string>;
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify(
      {
        name: 'web-app',
        private: true,
        version: '0.0.0',
        type: 'module',
        scripts: { dev: 'vite', build: 'tsc && vite build', preview: 'vite preview' },
        devDependencies: { typescript: rootDeps.typescript, vite: devDeps.vite },
      },
      null,
      2,
    ),
  );
  writeFileSync(
    join(dir, 'tsconfig.json'),
    `{
  "compilerOptions": {
    "target": "ES2022",
    "useDefineForClassFields": true,
    "module": "ESNext",
    "lib": ["ES2022", "DOM", "DOM.Iterable"],
    "types": ["vite/client"],
    "skipLibCheck": true,

    /* Bundler mode */
    "moduleResolution": "bundler",
    "allowImportingTsExtensions": true,
    "verbatimModuleSyntax": true,
    "moduleDetection": "force",
    "noEmit": true,

    /* Linting */
    "strict": true,
    "noUnusedLocals": true,
    "noUnusedParameters": true,
    "erasableSyntaxOnly": true,
    "noFallthroughCasesInSwitch": true,
    "noUncheckedSideEffectImports": true
  },
  "include": ["src"]
}
`,
  );
  writeFileSync(
    join(dir, 'index.html'),
    `<!doctype html>
<html lang="en">
  <head>
    <meta charset="UTF-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1.0" />
    <title>web-app</title>
  </head>
  <body>
    <div id="app"><canvas id="image"></canvas><pre id="result">decoding…</pre></div>
    <script type="module" src="/src/main.ts"></script>
  </body>
</html>
`,
  );
  writeFileSync(
    join(dir, 'src/main.ts'),
    `import { createDecoder, drawToCanvas, isDqcError, isWebDecoderError, type DecodeResult } from '@dqcodec/web';

const canvas = document.querySelector<HTMLCanvasElement>('#image')!;
const out = document.querySelector<HTMLPreElement>('#result')!;
const worker = new URLSearchParams(location.search).get('worker') === '1';

async function main(): Promise<void> {
  const decoder = await createDecoder({ model: '/model/', provider: 'wasm', worker });
  const passes: boolean[] = [];
  const image = await decoder.decodeProgressive('/photo.dqc', {
    onProgress: (r: DecodeResult) => {
      passes.push(r.final);
      drawToCanvas(r, canvas);
    },
  });
  let missing = 'none';
  try {
    await decoder.decodeProgressive('/missing.dqc'); // the server answers with index.html, as SPA servers do
  } catch (err) {
    missing = isDqcError(err) || isWebDecoderError(err) ? \`\${err.code}: \${err.message}\` : String(err);
  }
  decoder.dispose();
  out.textContent = JSON.stringify({ ok: true, width: image.width, height: image.height, provider: decoder.provider, worker: decoder.worker, family: decoder.family?.name ?? null, quality: image.model.quality ?? null, passes, missing, rgba: Array.from(image.data.subarray(0, 4)) });
}

main().catch((err: unknown) => {
  out.textContent = JSON.stringify({ ok: false, code: isDqcError(err) || isWebDecoderError(err) ? err.code : undefined, message: String(err) });
});
`,
  );
}

const MIME: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json', '.onnx': 'application/octet-stream', '.dqc': 'application/octet-stream', '.css': 'text/css' };

/** Static files: the app's dist/, plus extra URL → file entries; anything else is the app's index.html (an SPA fallback). */
async function serve(dist: string, extra: Record<string, string>, log: string[] = []): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    log.push(path);
    let file = extra[path] ?? join(dist, path === '/' ? 'index.html' : path);
    if (!file.startsWith(dist) && !Object.values(extra).includes(file)) file = join(dist, 'index.html');
    if (!existsSync(file) || statSync(file).isDirectory()) file = join(dist, 'index.html');
    res.writeHead(200, { 'content-type': MIME[extname(file)] ?? 'application/octet-stream' });
    res.end(readFileSync(file));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
}

/**
 * URL → file for what a browser may fetch of a model directory served at `prefix`: a family's
 * family.json and each member's manifest.json + decoder.onnx, or a single model's two files.
 */
function modelRoutes(dir: string, prefix: string): Record<string, string> {
  const routes: Record<string, string> = {};
  const family = join(dir, 'family.json');
  const members = existsSync(family) ? (JSON.parse(readFileSync(family, 'utf8')) as { qualities: { dir: string }[] }).qualities.map((m) => `${m.dir}/`) : [''];
  if (existsSync(family)) routes[`${prefix}family.json`] = family;
  for (const m of members) for (const f of ['manifest.json', 'decoder.onnx']) routes[`${prefix}${m}${f}`] = join(dir, m, f);
  return routes;
}

/** Every package directory name under node_modules (scoped ones as @scope/name), nested ones included. */
function installedPackages(nodeModules: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir)) {
      if (name.startsWith('.')) continue;
      if (name.startsWith('@')) {
        for (const sub of readdirSync(join(dir, name))) {
          out.push(`${name}/${sub}`);
          walk(join(dir, name, sub, 'node_modules'));
        }
      } else {
        out.push(name);
        walk(join(dir, name, 'node_modules'));
      }
    }
  };
  walk(nodeModules);
  return out;
}

describe('the packed packages, installed into fresh projects', () => {
  const work = mkdtempSync(join(tmpdir(), 'dqcodec-install-'));
  const tarballs: Record<string, string> = {};
  const nodeApp = join(work, 'node-app');
  const webApp = join(work, 'web-app');
  let server: Server | null = null;

  beforeAll(() => {
    const packed = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', work, ...PACKAGES.flatMap((p) => ['-w', p])], root)) as { name: string; filename: string }[];
    for (const p of packed) tarballs[p.name] = join(work, p.filename);
    expect(Object.keys(tarballs).sort()).toEqual(['@dqcodec/codec', '@dqcodec/core', '@dqcodec/web', 'dqcodec']);
  }, 300_000);

  afterAll(async () => {
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    rmSync(work, { recursive: true, force: true });
  });

  it('tarballs hold built JavaScript and declarations, no sources or tests', () => {
    for (const [name, tgz] of Object.entries(tarballs)) {
      const files = run('tar', ['tzf', tgz], work).trim().split('\n');
      expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')), name).toEqual([]);
      expect(files.some((f) => /\/test\//.test(f)), name).toBe(false);
      expect(files, name).toContain('package/package.json');
      if (name !== 'dqcodec') expect(files, name).toContain('package/dist/index.d.ts');
    }
  });

  it('Node project: `dqcodec encode` and `decode` through the installed bin', () => {
    mkdirSync(nodeApp);
    writeFileSync(join(nodeApp, 'package.json'), JSON.stringify({ name: 'node-app', private: true, type: 'module' }));
    // The documented way to skip onnxruntime-node's CUDA download (no network but the registry here).
    run('npm', [...npmInstall, tarballs['@dqcodec/core'], tarballs['@dqcodec/codec'], tarballs.dqcodec], nodeApp, { ...cleanEnv, ONNXRUNTIME_NODE_INSTALL: 'skip' });
    const bin = join(nodeApp, 'node_modules/.bin/dqcodec');
    copyFileSync(SAMPLE, join(nodeApp, 'photo.png'));
    run(bin, ['encode', 'photo.png', '-o', 'photo.dqc', '-q'], nodeApp);
    run(bin, ['decode', 'photo.dqc', '-o', 'back.png', '-q'], nodeApp);
    const header = readHeader(new Uint8Array(readFileSync(join(nodeApp, 'photo.dqc'))));
    expect([header.width, header.height]).toEqual([768, 512]);
    expect(readFileSync(join(nodeApp, 'back.png')).subarray(1, 4).toString()).toBe('PNG');
    expect(run(bin, ['--help'], nodeApp)).toMatch(/encode \[options\] <input\.\.\.>/);
    // Training is an optional package: a clear one-line error, not a crash.
    expect(() => run(bin, ['export', 'x', '-o', 'y'], nodeApp)).toThrow(/need the @dqcodec\/train package/);
  }, 300_000);

  it('Vite app (create-vite vanilla-ts): installs without Node-only packages, passes tsc --noEmit and vite build', () => {
    writeViteApp(webApp);
    run('npm', [...npmInstall, tarballs['@dqcodec/core'], tarballs['@dqcodec/web']], webApp);
    const installed = installedPackages(join(webApp, 'node_modules'));
    expect(installed).toContain('onnxruntime-web');
    for (const forbidden of ['onnxruntime-node', 'sharp', '@dqcodec/codec', 'onnx-proto', 'dqcodec']) expect(installed, forbidden).not.toContain(forbidden);
    const webPkg = JSON.parse(readFileSync(join(webApp, 'node_modules/@dqcodec/web/package.json'), 'utf8')) as { dependencies: Record<string, string> };
    expect(Object.keys(webPkg.dependencies).sort()).toEqual(['@dqcodec/core', 'onnxruntime-web']);
    run(join(webApp, 'node_modules/.bin/tsc'), ['--noEmit'], webApp);
    run('npm', ['run', 'build'], webApp); // the template's build: tsc && vite build
    expect(existsSync(join(webApp, 'dist/index.html'))).toBe(true);
  }, 300_000);

  it.skipIf(!existsSync(CHROMIUM))('the built app decodes the CLI-made .dqc in Chromium (main thread and Worker)', async () => {
    const model = join(nodeApp, 'node_modules/@dqcodec/codec/models/default');
    const isFamily = existsSync(join(model, 'family.json'));
    const log: string[] = [];
    const s = await serve(join(webApp, 'dist'), { ...modelRoutes(model, '/model/'), '/photo.dqc': join(nodeApp, 'photo.dqc') }, log);
    server = s.server;
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--no-first-run'], timeout: 60_000 });
    try {
      for (const worker of [false, true]) {
        const page = await browser.newPage();
        const errors: string[] = [];
        page.on('pageerror', (e) => errors.push(e.message));
        log.length = 0;
        await page.goto(`${s.url}${worker ? '?worker=1' : ''}`);
        await page.waitForFunction(() => document.querySelector('#result')?.textContent?.startsWith('{'), undefined, { timeout: 120_000 });
        const result = JSON.parse((await page.locator('#result').textContent()) ?? '{}') as Record<string, unknown>;
        expect(result, JSON.stringify(result)).toMatchObject({ ok: true, width: 768, height: 512, provider: 'wasm', worker, passes: [false, true], missing: expect.stringMatching(/^BAD_MAGIC: .*missing\.dqc is an HTML page/) });
        expect((result.rgba as number[])[3]).toBe(255);
        expect(errors).toEqual([]);
        if (isFamily) {
          // family.json, then only the member that made photo.dqc.
          const family = JSON.parse(readFileSync(join(model, 'family.json'), 'utf8')) as { name: string; qualities: { dir: string; fingerprint: string }[] };
          const fp = readHeader(new Uint8Array(readFileSync(join(nodeApp, 'photo.dqc')))).fingerprint;
          const member = family.qualities.findIndex((m) => m.fingerprint === fp);
          expect(member, 'photo.dqc is from a member of the shipped family').toBeGreaterThanOrEqual(0);
          expect(result).toMatchObject({ family: family.name, quality: member + 1 });
          const dir = family.qualities[member].dir;
          expect(log.filter((p) => p.startsWith('/model/')).sort()).toEqual(['/model/family.json', `/model/${dir}/decoder.onnx`, `/model/${dir}/manifest.json`].sort());
        }
        await page.close();
      }
    } finally {
      await browser.close();
    }
  }, 300_000);
});
