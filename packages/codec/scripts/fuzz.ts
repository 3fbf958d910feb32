/**
 * The fuzzing suite at any size (CI runs a sample of the same cases in packages/core/test and packages/codec/test):
 *
 *   npm run fuzz -- [--count 10000] [--seed 1] [--onnx-count n] [--cli-count n] [--cli-single n]
 *                   [--input-count n] [--model dir] [--case-timeout s] [--json out.json]
 *   npm run fuzz -- --only <index> [--phase core|onnx] [--seed s]     # re-run one case, verbosely
 *
 * Four phases; the first three over seeded mutations of valid .dqc files (test/fuzz/mutate.ts):
 *  1. core: `--count` cases through the pure-TS decoder (container, entropy coder, alpha);
 *  2. onnx: `--onnx-count` cases (default count/10) through DqCodec.decode with `--model`
 *     (default: the shipped model), on files that model encoded;
 *  3. cli: `--cli-count` files (default 300) in one batch `dqcodec decode <dir>` run, checked
 *     file by file against phase 2's decoder, plus `--cli-single` (default 20) single-file runs;
 *  4. inputs: `--input-count` (default 1000) inputs that are not what they claim to be
 *     (test/fuzz/inputs.ts: .dqc files with gigabytes of sparse junk or edited lengths, cut and
 *     edited images of every accepted format, oversized files, SVG/PDF/junk, FIFOs, devices,
 *     symlink loops, multi-frame images, oversized or hollow token files) through decodeFile,
 *     encodeFile and detokenizeFile; then one `dqcodec encode <dir>` and one `dqcodec decode <dir>`
 *     over the files among them that a directory search picks up, checked against the library's
 *     outcomes, with the CLI's peak RSS and wall time.
 *
 * A case passes when it decodes, or is refused with a DqcError in one line; a full decode of a
 * file whose bytes changed without its checksums being fixed must be refused. The cases run in
 * a child process watched by this one: a case that does not finish within `--case-timeout`
 * seconds (default 60) is reported as a hang, with the command that re-runs it.
 */
import { fork, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { defaultModelDir, DqCodec } from '../src/index.js';
import { coreCorpus } from '../../core/test/fuzz/corpus.js';
import { describeCase, FuzzFailure, FuzzStats, makeCase, runCases, runCoreCase, type BaseFile, type FuzzCase } from '../../core/test/fuzz/harness.js';
import { nodeCorpus, runNodeCase } from '../test/fuzz/node.js';
import { inputBase, runInputCases, type InputCase, type InputStats } from '../test/fuzz/inputs.js';

const { values: args } = parseArgs({
  options: {
    count: { type: 'string', default: '10000' },
    seed: { type: 'string', default: '1' },
    'onnx-count': { type: 'string' },
    'cli-count': { type: 'string', default: '300' },
    'cli-single': { type: 'string', default: '20' },
    'input-count': { type: 'string', default: '1000' },
    model: { type: 'string' },
    'case-timeout': { type: 'string', default: '60' },
    json: { type: 'string' },
    only: { type: 'string' },
    phase: { type: 'string', default: 'core' },
    child: { type: 'boolean', default: false },
  },
});

const SCRIPT = fileURLToPath(import.meta.url);
const CLI_BIN = fileURLToPath(new URL('../../../cli/bin/dqcodec.js', import.meta.url));
const seed = Number(args.seed);
const count = Number(args.count);
const onnxCount = args['onnx-count'] !== undefined ? Number(args['onnx-count']) : Math.ceil(count / 10);
const cliCount = Number(args['cli-count']);
const cliSingle = Number(args['cli-single']);
const inputCount = Number(args['input-count']);
const PEAK_RSS_PRELOAD = new URL('../../../cli/test/peakRss.mjs', import.meta.url).href;
const modelDir = args.model ?? defaultModelDir();
const timeoutMs = Number(args['case-timeout']) * 1000;
/** The onnx and cli phases cap images at 1 MP, so "grown" files that pass decode in well under a second. */
const FUZZ_MAX_PIXELS = 1_000_000;

type Phase = 'core' | 'onnx' | 'cli' | 'inputs';
type Message = { type: 'case'; phase: Phase; index: number; what: string } | { type: 'done'; phase: Phase; line: string; stats: object; seconds: number };

function send(m: Message): void {
  process.send?.(m);
}

/** Heartbeat before each case; yields to the event loop so the message actually leaves. */
function heartbeat(phase: Phase): (c: FuzzCase) => Promise<void> {
  return async (c) => {
    send({ type: 'case', phase, index: c.index, what: describeCase(c) });
    if (c.index % 16 === 0) await new Promise((r) => setImmediate(r));
  };
}

/** Extra base files: crops of the sample photos, encoded by the model (real image statistics). */
async function photoCrops(codec: DqCodec): Promise<BaseFile[]> {
  const dir = fileURLToPath(new URL('../../../samples/', import.meta.url));
  const out: BaseFile[] = [];
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.png'))) {
    const crop = await sharp(join(dir, f)).extract({ left: 200, top: 120, width: 160, height: 104 }).png().toBuffer();
    out.push({ name: `${f} crop`, bytes: await codec.encode(crop) });
  }
  return out;
}

async function timed(phase: Phase, fn: () => Promise<Pick<FuzzStats, 'line' | 'toJSON'>>): Promise<void> {
  const t0 = performance.now();
  const stats = await fn();
  send({ type: 'done', phase, line: stats.line(), stats: stats.toJSON(), seconds: (performance.now() - t0) / 1000 });
}

/** A case's expected outcome through the full decoder (the CLI must agree with it). */
async function expectations(codec: DqCodec, corpus: BaseFile[], dir: string): Promise<Map<string, { c: FuzzCase; outcome: string }>> {
  const expected = new Map<string, { c: FuzzCase; outcome: string }>();
  for (let i = 0; i < cliCount; i++) {
    // Indices after the onnx phase's, so these are new cases.
    const c = { ...makeCase(corpus, seed, onnxCount + i), preview: false };
    await heartbeat('cli')(c);
    const name = `case-${String(c.index).padStart(7, '0')}.dqc`;
    writeFileSync(join(dir, name), c.mutant.bytes);
    expected.set(name, { c, outcome: await runNodeCase(codec, c) });
  }
  return expected;
}

/** One batch decode of every file: failures listed one line each, outputs only for decoded files. */
function checkBatch(dir: string, expected: Map<string, { c: FuzzCase; outcome: string }>): void {
  const out = join(dir, 'out');
  const r = spawnSync(process.execPath, [CLI_BIN, 'decode', dir, '-o', out, '-m', modelDir, '--max-pixels', String(FUZZ_MAX_PIXELS), '-q'], {
    encoding: 'utf8',
    timeout: timeoutMs * 10,
  });
  const rejected = [...expected].filter(([, e]) => e.outcome !== 'decoded').map(([n]) => n);
  const decoded = [...expected].filter(([, e]) => e.outcome === 'decoded').map(([n]) => n);
  const lines = r.stderr.trim().split('\n').filter((l) => l.length > 0);
  const listed = lines.slice(1).map((l) => basename(l.trim().split(':')[0]));
  const problems: string[] = [];
  if (r.status !== (rejected.length > 0 ? 1 : 0)) problems.push(`exit status ${r.status} (signal ${r.signal})`);
  if (rejected.length > 0 && lines[0] !== `dqcodec: ${rejected.length} of ${expected.size} inputs failed (${decoded.length} decoded):`) problems.push(`summary line ${JSON.stringify(lines[0])}`);
  if (listed.join() !== rejected.join()) problems.push(`failures listed ${listed.length}, expected ${rejected.length}`);
  for (const l of lines.filter((x) => /internal error|\n\s+at /.test(x))) problems.push(`internal error: ${l}`);
  const outputs = readdirSync(out).sort();
  if (outputs.join() !== decoded.map((n) => n.replace('.dqc', '.png')).join()) problems.push(`outputs ${outputs.length}, expected ${decoded.length} (temporary files left?)`);
  if (problems.length > 0) throw new FuzzFailure(`batch decode of ${dir}: ${problems.join('; ')}\n${r.stderr.slice(0, 4000)}`);
}

/** Single-file runs through main.ts: exit 0 with an output, or exit 1 with one line and none. */
function checkSingles(dir: string, expected: Map<string, { c: FuzzCase; outcome: string }>): void {
  for (const [name, { c, outcome }] of [...expected].slice(0, cliSingle)) {
    send({ type: 'case', phase: 'cli', index: c.index, what: `single-file run of ${describeCase(c)}` });
    const output = join(dir, `single-${name}.png`);
    const r = spawnSync(process.execPath, [CLI_BIN, 'decode', join(dir, name), '-o', output, '-m', modelDir, '--max-pixels', String(FUZZ_MAX_PIXELS), '-q'], { encoding: 'utf8', timeout: timeoutMs });
    const lines = r.stderr.trim().split('\n').filter((l) => l.length > 0);
    const made = readdirSync(dir).filter((f) => f.includes(`single-${name}`));
    const ok = outcome === 'decoded' ? r.status === 0 && lines.length === 0 && made.length === 1 : r.status === 1 && lines.length === 1 && !/internal error/.test(lines[0]) && made.length === 0;
    if (!ok) throw new FuzzFailure(`single-file decode of ${describeCase(c)} (expected ${outcome}): status ${r.status}, outputs ${made.join()}, stderr ${JSON.stringify(r.stderr)}`);
  }
}

async function cliPhase(codec: DqCodec, corpus: BaseFile[]): Promise<FuzzStats> {
  const dir = mkdtempSync(join(tmpdir(), 'dq-fuzz-cli-'));
  try {
    const expected = await expectations(codec, corpus, dir);
    send({ type: 'case', phase: 'cli', index: -1, what: `batch decode of ${expected.size} files` });
    checkBatch(dir, expected);
    checkSingles(dir, expected);
    const stats = new FuzzStats();
    for (const { c, outcome } of expected.values()) stats.add(c, outcome, 0);
    return stats;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A CLI batch over `dir`, checked against the library's outcomes; returns a line with time and peak RSS. */
function checkInputBatch(verb: 'encode' | 'decode', dir: string, outcomes: Map<string, string>): string {
  const names = [...outcomes.keys()].filter((n) => (verb === 'decode' ? n.endsWith('.dqc') : !n.endsWith('.dqc'))).sort();
  if (names.length === 0) return `${verb}: no inputs`;
  const src = join(dir, verb);
  mkdirSync(src);
  for (const n of names) renameSync(join(dir, n), join(src, n));
  const out = join(dir, `${verb}-out`);
  const rssFile = join(dir, `${verb}.rss`);
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ['--import', PEAK_RSS_PRELOAD, CLI_BIN, verb, src, '-o', out, '-m', modelDir, '--max-pixels', String(FUZZ_MAX_PIXELS), '-q'], {
    encoding: 'utf8',
    timeout: timeoutMs * 10,
    env: { ...process.env, DQCODEC_PEAK_RSS_FILE: rssFile },
  });
  const seconds = (performance.now() - t0) / 1000;
  const refused = names.filter((n) => outcomes.get(n) !== 'accepted');
  const lines = r.stderr.trim().split('\n').filter((l) => l.length > 0 && !l.startsWith('note: '));
  const listed = lines.slice(1).map((l) => basename(l.trim().split(':')[0]).replace(/ is .*$/, ''));
  const problems: string[] = [];
  if (r.status !== (refused.length > 0 ? 1 : 0)) problems.push(`exit status ${r.status} (signal ${r.signal})`);
  if (listed.length !== refused.length) problems.push(`failures listed ${listed.length}, expected ${refused.length}`);
  for (const l of lines.filter((x) => /internal error/.test(x))) problems.push(`internal error: ${l}`);
  const made = existsSync(out) ? readdirSync(out).length : 0;
  if (made !== names.length - refused.length) problems.push(`outputs ${made}, expected ${names.length - refused.length}`);
  if (problems.length > 0) throw new FuzzFailure(`batch ${verb} of ${src}: ${problems.join('; ')}\n${r.stderr.slice(0, 4000)}`);
  const rss = Number(readFileSync(rssFile, 'utf8')) / 1e6;
  return `batch \`dqcodec ${verb}\` of ${names.length} files: ${refused.length} refused, ${made} written, ${seconds.toFixed(1)} s, peak RSS ${rss.toFixed(0)} MB`;
}

async function inputsPhase(codec: DqCodec): Promise<InputStats> {
  const root = mkdtempSync(join(tmpdir(), 'dq-fuzz-inputs-'));
  try {
    const keep = { dir: join(root, 'keep'), outcomes: new Map<string, string>() };
    mkdirSync(keep.dir);
    const onCase = async (c: InputCase): Promise<void> => {
      send({ type: 'case', phase: 'inputs', index: c.index, what: `input case ${c.index} (${c.kind})` });
      if (c.index % 16 === 0) await new Promise((r) => setImmediate(r));
    };
    const stats = await runInputCases(codec, await inputBase(codec), seed, 0, inputCount, join(root, 'cases'), { limitMs: timeoutMs, onCase, keep });
    console.log(stats.table());
    for (const verb of ['decode', 'encode'] as const) {
      send({ type: 'case', phase: 'inputs', index: -1, what: `batch ${verb} of the kept input cases` });
      console.log(checkInputBatch(verb, keep.dir, keep.outcomes));
    }
    return stats;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

async function child(): Promise<void> {
  await timed('core', () => runCases(coreCorpus(), seed, 0, count, runCoreCase, { caseLimitMs: timeoutMs, onCase: heartbeat('core') }));
  if (onnxCount === 0 && cliCount === 0 && inputCount === 0) return;
  const codec = await DqCodec.load(modelDir, { maxPixels: FUZZ_MAX_PIXELS });
  const corpus = [...(await nodeCorpus(codec)), ...(await photoCrops(codec))];
  await timed('onnx', () => runCases(corpus, seed, 0, onnxCount, (c) => runNodeCase(codec, c), { caseLimitMs: timeoutMs, onCase: heartbeat('onnx') }));
  if (cliCount > 0) await timed('cli', () => cliPhase(codec, corpus));
  if (inputCount > 0) await timed('inputs', () => inputsPhase(codec));
  await codec.close();
}

/** --only: one case, described, with its outcome (or the failure). */
async function only(index: number): Promise<void> {
  let corpus: BaseFile[];
  let run: (c: FuzzCase) => Promise<string> | string;
  if (args.phase === 'core') {
    corpus = coreCorpus();
    run = runCoreCase;
  } else {
    const codec = await DqCodec.load(modelDir, { maxPixels: FUZZ_MAX_PIXELS });
    corpus = [...(await nodeCorpus(codec)), ...(await photoCrops(codec))];
    run = (c) => runNodeCase(codec, c);
  }
  const c = makeCase(corpus, seed, index);
  const file = join(tmpdir(), `dq-fuzz-case-${seed}-${index}.dqc`);
  writeFileSync(file, c.mutant.bytes);
  console.log(`${describeCase(c)}: ${c.mutant.bytes.length} bytes (written to ${file}), checksums fixed: ${c.mutant.checksumsFixed}`);
  console.log(`outcome: ${await run(c)}`);
}

/** Parent: run the child, kill it when a case outlives the timeout, print the counts. */
function watch(): void {
  const started = Date.now();
  let last = { at: Date.now(), what: 'start-up', phase: 'core' as Phase, index: 0 };
  let hung = false;
  const results: Extract<Message, { type: 'done' }>[] = [];
  const kid = fork(SCRIPT, [...process.argv.slice(2), '--child'], { execArgv: process.execArgv, stdio: 'inherit' });
  kid.on('message', (m: Message) => {
    if (m.type === 'case') last = { at: Date.now(), what: m.what, phase: m.phase, index: m.index };
    else {
      results.push(m);
      console.log(`${m.phase}: ${m.line} (${m.seconds.toFixed(1)} s)`);
    }
  });
  const timer = setInterval(() => {
    if (Date.now() - last.at < timeoutMs + 5000) return;
    hung = true;
    console.error(`HANG: ${last.what} ran for more than ${timeoutMs / 1000} s`);
    console.error(`re-run it: npm run fuzz -- --only ${last.index} --phase ${last.phase} --seed ${seed}`);
    kid.kill('SIGKILL');
  }, 1000);
  kid.on('exit', (code, signal) => {
    clearInterval(timer);
    const ok = !hung && code === 0;
    console.log(`${ok ? 'PASS' : 'FAIL'}: seed ${seed}, ${((Date.now() - started) / 1000).toFixed(1)} s${ok ? '' : ` (child exit ${code ?? signal})`}`);
    if (args.json) writeFileSync(args.json, `${JSON.stringify({ seed, count, onnxCount, cliCount, cliSingle, inputCount, model: modelDir, ok, phases: results }, null, 2)}\n`);
    process.exitCode = ok ? 0 : 1;
  });
}

if (args.only !== undefined) await only(Number(args.only));
else if (args.child) await child();
else watch();
