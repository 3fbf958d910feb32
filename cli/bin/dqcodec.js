#!/usr/bin/env node
// Installed, the CLI runs its built JavaScript (dist/). In the repository (src/ present), it runs
// the TypeScript sources through tsx, resolving the workspace packages to their sources too (the
// "@dqcodec/source" export condition), so that nothing needs rebuilding while developing;
// DQCODEC_BIN=dist runs dist/ there as well (`npm run build` first).
import { existsSync } from 'node:fs';

const source = new URL('../src/main.ts', import.meta.url);
if (process.env.DQCODEC_BIN !== 'dist' && existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  // Registered after tsx, so it runs first and tsx resolves with the added condition.
  (await import('node:module')).register('./sourceCondition.mjs', import.meta.url);
  await import(source.href);
} else {
  await import('../dist/main.js');
}
