/** Where the shipped default model lives: `models/default` at the repository root. */
import { fileURLToPath } from 'node:url';

/** `$DQCODEC_MODEL` when set, else `<repo>/models/default` (resolved from this package's location). */
export function defaultModelDir(): string {
  const env = process.env.DQCODEC_MODEL;
  if (env) return env;
  return fileURLToPath(new URL('../../../../models/default', import.meta.url));
}
