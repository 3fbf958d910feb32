/** Public level-coding API over the JSON form of the tables (compiled once per tables object). */
import { decodeLevelCompiled, encodeLevelCompiled, type EntropyMethod } from './model.js';
import { compileLevelTables, compileTables, defaultLevelTables, tablesCrc, type CompiledLevelTables, type EntropyLevelTables, type EntropyTables } from './tables.js';
import type { LevelIndicesInput, LevelShape, LevelSpec } from './types.js';

function resolve(spec: LevelSpec, tables: EntropyLevelTables | undefined): CompiledLevelTables {
  return tables === undefined ? defaultLevelTables(spec) : compileLevelTables(tables);
}

/**
 * Entropy-code one level's indices. Without `tables`, a uniform prior is used (the 'context'
 * method still exploits spatial correlation; 'static' then costs log2 K bits per index).
 */
export function encodeLevel(level: LevelIndicesInput, tables?: EntropyLevelTables, method: EntropyMethod = 'context'): Uint8Array {
  return encodeLevelCompiled(level, resolve(level, tables), method);
}

/** Decode a stream made by encodeLevel with the same shape, tables and method. */
export function decodeLevel(bytes: Uint8Array, shape: LevelShape, tables?: EntropyLevelTables, method: EntropyMethod = 'context'): Uint16Array {
  return decodeLevelCompiled(bytes, shape, resolve(shape, tables), method);
}

/** Validate untrusted JSON as entropy tables (throws DqcError('BAD_TABLES') naming the field). */
export function parseEntropyTables(json: unknown): EntropyTables {
  compileTables(json);
  return json as EntropyTables;
}

const crcCache = new WeakMap<EntropyTables, number>();

/** Compiled tables for `specs` (top first) plus their CRC; defaults when `tables` is undefined. */
export function resolveTables(specs: LevelSpec[], tables: EntropyTables | undefined): { levels: CompiledLevelTables[]; crc: number } {
  if (tables === undefined) {
    const levels = specs.map(defaultLevelTables);
    return { levels, crc: tablesCrc(levels) };
  }
  const levels = compileTables(tables);
  let crc = crcCache.get(tables);
  if (crc === undefined) crcCache.set(tables, (crc = tablesCrc(levels)));
  return { levels, crc };
}
