/**
 * The demo's Vite build (also the reference setup for apps that bundle @dqcodec/web with Vite):
 * onnxruntime-web's bundled builds locate their .wasm with `new URL(file, import.meta.url)`, which
 * Vite turns into emitted assets, so the runtime is served by the app itself (no CDN).
 */
import { defaultClientConditions, defineConfig } from 'vite';
import { fileURLToPath } from 'node:url';

const demoDir = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root: demoDir,
  base: './',
  logLevel: 'warn',
  // Workspace packages (@dqcodec/core, @dqcodec/web) from their TypeScript sources, not their dist/.
  resolve: { conditions: ['@dqcodec/source', ...defaultClientConditions] },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // onnxruntime-web's chunk is ~120 kB minified; its .wasm is fetched separately.
    chunkSizeWarningLimit: 1024,
  },
  // Dev server: onnxruntime-web must not be pre-bundled, or its import.meta.url-relative .wasm lookup breaks.
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  server: { fs: { allow: [fileURLToPath(new URL('../../..', import.meta.url))] } },
});
