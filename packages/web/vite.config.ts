/**
 * `npm run build -w packages/web` (after tsc): the library as one ES module, dist/dqcodec-web.js, for pages
 * without a bundler. @dqcodec/core is bundled in; onnxruntime-web stays external (the page
 * maps 'onnxruntime-web/webgpu' and 'onnxruntime-web/wasm' with an import map — see README.md).
 */
import { defaultClientConditions, defineConfig } from 'vite';
import { fileURLToPath } from 'node:url';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  logLevel: 'warn',
  // Workspace packages (@dqcodec/core, @dqcodec/web) from their TypeScript sources, not their dist/.
  resolve: { conditions: ['@dqcodec/source', ...defaultClientConditions] },
  build: {
    outDir: 'dist',
    emptyOutDir: false, // tsc's dist/*.js and *.d.ts are there too
    target: 'es2022',
    minify: 'esbuild',
    sourcemap: false,
    lib: { entry: 'src/bundle.ts', formats: ['es'], fileName: () => 'dqcodec-web.js' },
    rollupOptions: { external: [/^onnxruntime-web(\/.*)?$/] },
  },
});
