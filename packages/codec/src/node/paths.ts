/** Where the shipped default model lives. */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * `$DQCODEC_MODEL` when set; else the package's own `models/default` (an installed
 * @dqcodec/codec ships the model there); else `<repo>/models/default` (in the repository, from
 * src/node/ or dist/node/ alike).
 */
export function defaultModelDir(): string {
  const env = process.env.DQCODEC_MODEL;
  if (env) return env;
  const packaged = fileURLToPath(new URL('../../models/default', import.meta.url));
  if (existsSync(`${packaged}/manifest.json`)) return packaged;
  return fileURLToPath(new URL('../../../../models/default', import.meta.url));
}
