/**
 * Checkpoints: a directory with checkpoint.json (format version, config, step, sampler RNG,
 * tensor index) and weights.bin (float32 little-endian, model tensors then optimizer tensors).
 * Saving writes a sibling temp directory and renames it into place, keeping the previous
 * checkpoint as <dir>.prev until the new one is complete, so a killed process never leaves a
 * half-written checkpoint behind.
 */
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export const CHECKPOINT_VERSION = 1;

export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

export interface NamedArray {
  shape: number[];
  data: Float32Array;
}

export interface OptimizerTensor extends NamedArray {
  name: string;
}

export interface CheckpointData {
  config: unknown;
  step: number;
  weights: Map<string, NamedArray>;
  optimizer: OptimizerTensor[];
  rngState: unknown;
  meta: Record<string, unknown>;
}

interface IndexEntry {
  name: string;
  shape: number[];
  /** Offset in float32 elements. */
  offset: number;
}

interface CheckpointJson {
  format: 'dqcodec-checkpoint';
  version: number;
  config: unknown;
  step: number;
  rngState: unknown;
  meta: Record<string, unknown>;
  weights: IndexEntry[];
  optimizer: IndexEntry[];
  totalFloats: number;
}

function size(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export async function saveCheckpoint(dir: string, ck: CheckpointData): Promise<void> {
  let offset = 0;
  const index = (name: string, a: NamedArray): IndexEntry => {
    if (a.data.length !== size(a.shape)) throw new CheckpointError(`tensor ${name}: ${a.data.length} values for shape [${a.shape}]`);
    const e = { name, shape: a.shape, offset };
    offset += a.data.length;
    return e;
  };
  const weights = [...ck.weights].map(([name, a]) => index(name, a));
  const optimizer = ck.optimizer.map((t) => index(t.name, t));
  const all = new Float32Array(offset);
  for (const [i, [, a]] of [...ck.weights].entries()) all.set(a.data, weights[i].offset);
  for (const [i, t] of ck.optimizer.entries()) all.set(t.data, optimizer[i].offset);
  const json: CheckpointJson = {
    format: 'dqcodec-checkpoint',
    version: CHECKPOINT_VERSION,
    config: ck.config,
    step: ck.step,
    rngState: ck.rngState,
    meta: ck.meta,
    weights,
    optimizer,
    totalFloats: offset,
  };
  const parent = dirname(dir);
  await mkdir(parent, { recursive: true });
  const tmp = join(parent, `.${basename(dir)}.tmp-${process.pid}`);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp);
  // Float32Array is little-endian on every platform Node runs on.
  await writeFile(join(tmp, 'weights.bin'), new Uint8Array(all.buffer));
  await writeFile(join(tmp, 'checkpoint.json'), JSON.stringify(json, null, 1));
  const prev = `${dir}.prev`;
  await rm(prev, { recursive: true, force: true });
  if (await stat(dir).catch(() => null)) await rename(dir, prev);
  await rename(tmp, dir);
}

export async function loadCheckpoint(dir: string): Promise<CheckpointData> {
  const st = await stat(dir).catch(() => null);
  if (!st) throw new CheckpointError(`checkpoint ${dir} does not exist`);
  // Accept a training output directory as well as the checkpoint directory itself.
  if (!(await stat(join(dir, 'checkpoint.json')).catch(() => null)) && (await stat(join(dir, 'checkpoint', 'checkpoint.json')).catch(() => null))) {
    return loadCheckpoint(join(dir, 'checkpoint'));
  }
  let json: CheckpointJson;
  try {
    json = JSON.parse(await readFile(join(dir, 'checkpoint.json'), 'utf8')) as CheckpointJson;
  } catch (err) {
    throw new CheckpointError(`checkpoint ${dir}: cannot read checkpoint.json (${(err as Error).message.split('\n')[0]})`);
  }
  if (json.format !== 'dqcodec-checkpoint') throw new CheckpointError(`checkpoint ${dir}: not a dqcodec checkpoint`);
  if (json.version !== CHECKPOINT_VERSION) throw new CheckpointError(`checkpoint ${dir}: format version ${json.version} is not supported (expected ${CHECKPOINT_VERSION})`);
  let bin: Buffer;
  try {
    bin = await readFile(join(dir, 'weights.bin'));
  } catch {
    throw new CheckpointError(`checkpoint ${dir}: weights.bin is missing`);
  }
  if (bin.length !== json.totalFloats * 4) {
    throw new CheckpointError(`checkpoint ${dir}: weights.bin has ${bin.length} bytes, expected ${json.totalFloats * 4} (truncated or corrupt)`);
  }
  const all = new Float32Array(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.length));
  const take = (e: IndexEntry): NamedArray => {
    const n = size(e.shape);
    if (e.offset < 0 || e.offset + n > all.length) throw new CheckpointError(`checkpoint ${dir}: tensor ${e.name} lies outside weights.bin`);
    return { shape: e.shape, data: all.slice(e.offset, e.offset + n) };
  };
  return {
    config: json.config,
    step: json.step,
    rngState: json.rngState,
    meta: json.meta,
    weights: new Map(json.weights.map((e) => [e.name, take(e)])),
    optimizer: json.optimizer.map((e) => ({ name: e.name, ...take(e) })),
  };
}
