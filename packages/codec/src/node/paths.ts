/** Where the shipped default model lives. */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * `$DQCODEC_MODEL` when set; else the package's own `models/default` (an installed
 * @dqcodec/codec ships the model there); else `<repo>/models/default` (in the repository, from
 * src/node/ or dist/node/ alike). The default model is a model family (family.json, one member
 * directory per quality); a single model directory (manifest.json) works as well.
 */
export function defaultModelDir(): string {
  const env = process.env.DQCODEC_MODEL;
  if (env) return env;
  const packaged = fileURLToPath(new URL('../../models/default', import.meta.url));
  if (existsSync(`${packaged}/family.json`) || existsSync(`${packaged}/manifest.json`)) return packaged;
  return fileURLToPath(new URL('../../../../models/default', import.meta.url));
}
