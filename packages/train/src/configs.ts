import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Path of a config shipped in packages/train/configs, or null if there is none by that name. */
export function builtinConfigPath(name: string): string | null {
  if (!/^[\w-]+$/.test(name)) return null;
  const path = fileURLToPath(new URL(`../configs/${name}.json`, import.meta.url));
  return existsSync(path) ? path : null;
}
