/**
 * Fuzzing the pure-TS decoder (container, entropy coder, alpha): seeded mutations of valid
 * files — truncations, bit flips, byte edits, spliced files and streams, header fields edited
 * with their CRC fixed, other fingerprints and tables, consistently grown sizes, garbled alpha,
 * random bytes. `npm run fuzz` runs the same cases at any count (and through onnxruntime and
 * the CLI); CI runs this sample.
 */
import { describe, expect, it } from 'vitest';
import { DqcError } from '../src/index.js';
import { coreCorpus } from './fuzz/corpus.js';
import { checkMayDecode, FuzzFailure, makeCase, rejectionReason, runCases, runCoreCase } from './fuzz/harness.js';

const CI_CASES = 10_000;

describe('fuzzing the core decoder', () => {
  it(`${CI_CASES} seeded mutated files: no crash, no hang, clean rejections, no garbage accepted`, async () => {
    const stats = await runCases(coreCorpus(), 1, 0, CI_CASES, runCoreCase, { caseLimitMs: 2000 });
    console.log(`core fuzz, seed 1: ${stats.line()}`);
    expect(stats.cases).toBe(CI_CASES);
    // The sample reaches deep: some files decode, and every kind of rejection shows up.
    expect(stats.decoded).toBeGreaterThan(CI_CASES / 10);
    for (const code of ['TRUNCATED', 'BAD_MAGIC', 'UNSUPPORTED_VERSION', 'BAD_HEADER', 'HEADER_CRC', 'STREAM_CRC', 'TRAILING_DATA', 'CORRUPT_STREAM', 'MODEL_MISMATCH', 'ABSURD_SIZE']) {
      expect(stats.outcomes.get(code) ?? 0, code).toBeGreaterThan(0);
    }
    expect(stats.kinds.size).toBeGreaterThanOrEqual(16);
  });

  it('cases are reproducible from seed and index alone', () => {
    const corpus = coreCorpus();
    const a = makeCase(corpus, 7, 123);
    const b = makeCase(corpus, 7, 123);
    expect([a.mutant.kind, a.base.name, a.preview]).toEqual([b.mutant.kind, b.base.name, b.preview]);
    expect(Buffer.compare(a.mutant.bytes, b.mutant.bytes)).toBe(0);
    expect(Buffer.compare(makeCase(corpus, 8, 123).mutant.bytes, a.mutant.bytes)).not.toBe(0);
  });

  it('the rules can fail: a crash, a multi-line message and accepted garbage are caught', () => {
    const c = makeCase(coreCorpus(), 1, 0);
    expect(() => rejectionReason(new TypeError('x is undefined'), c, ['DqcError'])).toThrow(FuzzFailure);
    expect(() => rejectionReason(new RangeError('Offset is outside the bounds of the DataView'), c, ['DqcError'])).toThrow(FuzzFailure);
    expect(() => rejectionReason(new DqcError('BAD_HEADER', 'two\nlines'), c, ['DqcError'])).toThrow(/not one short line/);
    expect(rejectionReason(new DqcError('BAD_HEADER', 'one line'), c, ['DqcError'])).toBe('BAD_HEADER');
    const changed = { ...c, preview: false, mutant: { kind: 'bit-flips', bytes: Uint8Array.of(1, 2, 3), checksumsFixed: false } };
    expect(() => checkMayDecode(changed)).toThrow(/garbage accepted/);
  });
});
