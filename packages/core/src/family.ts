/**
 * family.json: a model family, one model directory per operating point (a transform model
 * exported at each of its step scales). Encoders pick a member by quality; decoders pick the
 * member whose fingerprint the file records, so a .dqc file decodes without naming its quality.
 * Validated field by field like manifest.json.
 */
import { DqcError } from './errors.js';

export interface FamilyMember {
  /** 1 = smallest files. */
  quality: number;
  /** Model directory, relative to family.json (one plain path segment). */
  dir: string;
  /** The member manifest's fingerprint (lowercase hex SHA-256). */
  fingerprint: string;
  /** Step scale of the operating point (informative). */
  scale?: number;
}

export interface ModelFamily {
  format: 'dqc-family';
  version: 1;
  name: string;
  /** The quality an encoder uses when none is asked for. */
  defaultQuality: number;
  /** Named qualities (e.g. low, high), each a member's quality. */
  aliases: Record<string, number>;
  /** Quality 1 … N, in order. */
  qualities: FamilyMember[];
}

export const MAX_FAMILY_MEMBERS = 64;

function fail(field: string, msg: string): DqcError {
  return new DqcError('BAD_MANIFEST', `family.json: field ${field} ${msg}`);
}

function qualityField(v: unknown, field: string, n: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > n) throw fail(field, `must be a quality in [1, ${n}] (got ${JSON.stringify(v)})`);
  return v;
}

/** Whether parsed JSON claims to be a family (then parseFamily validates it). */
export function isFamilyJson(json: unknown): boolean {
  return typeof json === 'object' && json !== null && (json as { format?: unknown }).format === 'dqc-family';
}

export function parseFamily(json: unknown): ModelFamily {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw fail('(root)', 'must be an object');
  const o = json as Record<string, unknown>;
  if (o.format !== 'dqc-family') throw fail('format', `must be "dqc-family" (got ${JSON.stringify(o.format)})`);
  if (o.version !== 1) throw fail('version', `must be 1 (got ${JSON.stringify(o.version)})`);
  if (typeof o.name !== 'string' || o.name.length === 0 || o.name.length > 128) throw fail('name', 'must be a non-empty string of at most 128 characters');
  const q = o.qualities;
  if (!Array.isArray(q) || q.length < 1 || q.length > MAX_FAMILY_MEMBERS) throw fail('qualities', `must be an array of 1 to ${MAX_FAMILY_MEMBERS} members`);
  const qualities = q.map((m, i): FamilyMember => {
    const f = `qualities[${i}]`;
    if (typeof m !== 'object' || m === null) throw fail(f, 'must be an object');
    const e = m as Record<string, unknown>;
    if (e.quality !== i + 1) throw fail(`${f}.quality`, `must be ${i + 1} (members are listed quality 1 first)`);
    if (typeof e.dir !== 'string' || !/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/.test(e.dir)) throw fail(`${f}.dir`, `must be a plain directory name (got ${JSON.stringify(e.dir)})`);
    if (typeof e.fingerprint !== 'string' || !/^[0-9a-f]{64}$/.test(e.fingerprint)) throw fail(`${f}.fingerprint`, 'must be 64 lowercase hex digits');
    const out: FamilyMember = { quality: i + 1, dir: e.dir, fingerprint: e.fingerprint };
    if (e.scale !== undefined) {
      if (typeof e.scale !== 'number' || !Number.isFinite(e.scale)) throw fail(`${f}.scale`, 'must be a number');
      out.scale = e.scale;
    }
    return out;
  });
  const n = qualities.length;
  const defaultQuality = qualityField(o.defaultQuality, 'defaultQuality', n);
  const aliases: Record<string, number> = {};
  if (o.aliases !== undefined) {
    if (typeof o.aliases !== 'object' || o.aliases === null || Array.isArray(o.aliases)) throw fail('aliases', 'must be an object');
    for (const [k, v] of Object.entries(o.aliases)) {
      if (!/^[a-z][a-z0-9-]{0,31}$/.test(k)) throw fail(`aliases`, `has a bad name ${JSON.stringify(k)} (lowercase letters, digits, -)`);
      aliases[k] = qualityField(v, `aliases.${k}`, n);
    }
  }
  return { format: 'dqc-family', version: 1, name: o.name, defaultQuality, aliases, qualities };
}

/**
 * The member for a quality given as a number 1…N, a numeric string or an alias; undefined →
 * the default. Throws DqcError('BAD_MANIFEST') naming the valid choices.
 */
export function familyMember(family: ModelFamily, quality?: number | string): FamilyMember {
  if (quality === undefined) return family.qualities[family.defaultQuality - 1];
  const n = family.qualities.length;
  const q = typeof quality === 'number' ? quality : /^\d+$/.test(quality) ? Number(quality) : family.aliases[quality];
  if (q === undefined || !Number.isInteger(q) || q < 1 || q > n) {
    const names = Object.keys(family.aliases);
    throw new DqcError('BAD_MANIFEST', `quality ${JSON.stringify(quality)} is not one of model family ${family.name}'s: 1–${n}${names.length ? ` or ${names.join(', ')}` : ''}`);
  }
  return family.qualities[q - 1];
}

/** The member that made a file with this fingerprint, if any. */
export function familyMemberByFingerprint(family: ModelFamily, fingerprint: string): FamilyMember | undefined {
  return family.qualities.find((m) => m.fingerprint === fingerprint);
}
