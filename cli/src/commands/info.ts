import { Command } from 'commander';
import { alphaSection, familyMemberByFingerprint, hasAlphaSection, isFamilyDir, levelStream, loadFamilyMember, loadModelBundle, readHeader, readDqcFile, readModelFamily, DqcError } from '@dqcodec/codec';
import { jsonPrintable, printable, printableError } from '../printable.js';
import { singleFileError, channelsName } from './codecCommon.js';

interface LevelInfo {
  level: number;
  stride: number;
  M: number;
  h: number;
  w: number;
  K: number;
  indices: number;
  bytes: number;
  bitsPerIndex: number;
  log2K: number;
  bpp: number;
}

export interface DqcInfo {
  file: string;
  bytes: number;
  version: number;
  method: string;
  width: number;
  height: number;
  channels: number;
  paddedWidth: number;
  paddedHeight: number;
  fingerprint: string;
  tablesCrc: string;
  headerBytes: number;
  bpp: number;
  /** Top level first. */
  levels: LevelInfo[];
  alpha: { bytes: number; bitsPerPixel: number; method: 'constant' | 'adaptive' | 'unknown' } | null;
  /**
   * When --model was given: whether the file's fingerprint is that model's (for a model family:
   * one of its members', with the family's name and the member's quality).
   */
  model?: { dir: string; name: string; matches: boolean; family?: string; quality?: number };
}

/** Parse and check a whole .dqc file (header, every stream CRC, alpha section, trailing bytes). */
export function inspectDqc(file: string, bytes: Uint8Array): DqcInfo {
  const header = readHeader(bytes);
  const levels = header.levels.map((lv, i): LevelInfo => {
    levelStream(bytes, header, i); // CRC check
    const n = lv.M * lv.h * lv.w;
    const stride = header.paddedWidth / lv.w;
    return {
      level: i,
      stride,
      M: lv.M,
      h: lv.h,
      w: lv.w,
      K: lv.K,
      indices: n,
      bytes: lv.streamLength,
      bitsPerIndex: (lv.streamLength * 8) / n,
      log2K: Math.log2(lv.K),
      bpp: (lv.streamLength * 8) / (header.width * header.height),
    };
  });
  let end = header.totalLength;
  let alpha: DqcInfo['alpha'] = null;
  if (hasAlphaSection(header.channels)) {
    const s = alphaSection(bytes, header);
    end = s.end;
    const method = s.payload[0] === 0 ? 'constant' : s.payload[0] === 1 ? 'adaptive' : 'unknown';
    alpha = { bytes: s.end - header.totalLength, bitsPerPixel: ((s.end - header.totalLength) * 8) / (header.width * header.height), method };
  }
  if (bytes.length > end) throw new DqcError('TRAILING_DATA', `file has ${bytes.length - end} unexpected bytes after the last stream`);
  return {
    file,
    bytes: bytes.length,
    version: header.version,
    method: header.method,
    width: header.width,
    height: header.height,
    channels: header.channels,
    paddedWidth: header.paddedWidth,
    paddedHeight: header.paddedHeight,
    fingerprint: header.fingerprint,
    tablesCrc: `0x${header.tablesCrc.toString(16).padStart(8, '0')}`,
    headerBytes: header.headerLength,
    bpp: (bytes.length * 8) / (header.width * header.height),
    levels,
    alpha,
  };
}

function pad(s: string | number, n: number): string {
  return String(s).padStart(n);
}

/** The text form; the file and model names are untrusted, so they are printed printable (one line each). */
function render(i: DqcInfo): string {
  const lines = [
    `${printable(i.file)}: ${i.bytes} bytes, .dqc version ${i.version}, entropy method ${i.method}`,
    `image     ${i.width}×${i.height} ${channelsName(i.channels)} (padded ${i.paddedWidth}×${i.paddedHeight}), ${i.bpp.toFixed(4)} bpp`,
    `model     ${i.fingerprint}${i.model ? ` (${modelNote(i.model)})` : ''}`,
    `tables    crc ${i.tablesCrc}; header ${i.headerBytes} bytes`,
    '',
    'level  stride  M × h × w              K     bytes  bits/index  log2 K     bpp',
    ...i.levels.map(
      (l) =>
        `${pad(l.level === 0 ? '0 top' : l.level, 5)}  ${pad(l.stride, 6)}  ${`${l.M} × ${l.h} × ${l.w}`.padEnd(18)} ${pad(l.K, 6)} ${pad(l.bytes, 9)}  ${pad(l.bitsPerIndex.toFixed(3), 10)}  ${pad(l.log2K.toFixed(2), 6)}  ${pad(l.bpp.toFixed(4), 6)}`,
    ),
  ];
  if (i.alpha) lines.push(`alpha  ${i.alpha.method} ${i.alpha.bytes} bytes, ${i.alpha.bitsPerPixel.toFixed(4)} bits/pixel (lossless)`);
  return lines.join('\n');
}

function modelNote(m: NonNullable<DqcInfo['model']>): string {
  if (m.family !== undefined) {
    return m.matches ? `matches ${printable(m.name)}: quality ${m.quality} of model family ${printable(m.family)}` : `NOT a model of family ${printable(m.family)} in ${printable(m.dir)}`;
  }
  return m.matches ? `matches ${printable(m.name)}` : `NOT the model in ${printable(m.dir)}`;
}

/** Whether a file with `fingerprint` belongs to the model (or model family) in `dir`; the matching model is loaded and verified. */
async function modelMatch(dir: string, fingerprint: string): Promise<NonNullable<DqcInfo['model']>> {
  if (isFamilyDir(dir)) {
    const family = await readModelFamily(dir);
    const m = familyMemberByFingerprint(family, fingerprint);
    if (!m) return { dir, name: family.name, matches: false, family: family.name };
    const b = await loadFamilyMember(dir, family, m);
    return { dir, name: b.manifest.name, matches: true, family: family.name, quality: m.quality };
  }
  const b = await loadModelBundle(dir);
  return { dir, name: b.manifest.name, matches: b.manifest.fingerprint === fingerprint };
}

export function registerInfo(program: Command): void {
  program
    .command('info')
    .description('Show a .dqc file\'s header and per-level sizes (bits per index vs log2 K); checks every checksum.')
    .argument('<file>', '.dqc file')
    .option('--json', 'print JSON', false)
    .option('-m, --model <dir>', 'also say whether the file belongs to this model (for a model family: which quality made it)')
    .action(async (file: string, o: { json: boolean; model?: string }) => {
      let info: DqcInfo;
      try {
        // Bounded by the header: a file longer than its header accounts for is refused unread.
        info = inspectDqc(file, await readDqcFile(file));
      } catch (err) {
        throw singleFileError(file, err);
      }
      if (o.model !== undefined) {
        info.model = await modelMatch(o.model, info.fingerprint).catch((err: unknown) => {
          throw printableError(err);
        });
      }
      // JSON escapes control characters itself; the text form prints the file and model names printable.
      process.stdout.write(o.json ? `${jsonPrintable(JSON.stringify(info, null, 2))}\n` : `${render(info)}\n`);
    });
}
