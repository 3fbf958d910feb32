/**
 * `npm run build -w packages/web`: the library as one ES module, dist/dqcodec-web.js, for pages
 * without a bundler. @dqcodec/core is bundled in; onnxruntime-web stays external (the page
 * maps 'onnxruntime-web/webgpu' and 'onnxruntime-web/wasm' with an import map — see README.md).
 */
import { defineConfig } from 'vite';
import { fileURLToPath } from 'node:url';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  logLevel: 'warn',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    minify: 'esbuild',
    sourcemap: true,
    lib: { entry: 'src/index.ts', formats: ['es'], fileName: () => 'dqcodec-web.js' },
    rollupOptions: { external: [/^onnxruntime-web(\/.*)?$/] },
  },
});
