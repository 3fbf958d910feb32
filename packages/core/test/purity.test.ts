/** Guards the hard rule: packages/core runs unchanged in the browser, so no Node APIs and no `any` in its API. */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const CORE = fileURLToPath(new URL('../src/', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('core purity', () => {
  const files = sources(CORE);

  it('finds the core sources', () => {
    expect(files.length).toBeGreaterThan(8);
  });

  it('uses no Node APIs and imports only relative modules', () => {
    for (const f of files) {
      const code = readFileSync(f, 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
      expect(code, f).not.toMatch(/\b(Buffer|process|require|__dirname|global)\b/);
      for (const m of code.matchAll(/\bfrom\s+['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]/g)) {
        expect(m[1] ?? m[2], f).toMatch(/^\.\.?\//);
      }
      expect(code, f).not.toMatch(/:\s*any\b|as any\b|<any>/);
    }
  });
});
