/**
 * NumPy `.npy` files for integer index arrays, so that Python users can `np.load` tokens and
 * write (edited) tokens back. Only what token files need: C-order integer arrays. Written as
 * format 1.0, little-endian uint16; read: format 1.0–3.0, any 1/2/4/8-byte integer dtype of
 * either byte order (numpy's default int64 included). Everything read is validated before use.
 */
import { DqcError } from './errors.js';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"
/** numpy pads the header so the data starts on a 64-byte boundary. */
const ALIGN = 64;
const MAX_HEADER = 1 << 16;

export interface NpyArray {
  shape: number[];
  /** The array-protocol type string from the header, e.g. "<u2", "<i8". */
  dtype: string;
  /** Values in C order (exact for |v| < 2^53; larger 8-byte values lose precision but stay out of any index range). */
  values: Float64Array;
}

function bad(name: string, msg: string): DqcError {
  return new DqcError('BAD_TOKENS', `${name}: ${msg}`);
}

/** A C-order uint16 array as a version 1.0 .npy file. */
export function writeNpy(data: Uint16Array, shape: readonly number[]): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new RangeError(`shape [${shape.join(', ')}] holds ${count} values, data has ${data.length}`);
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(', ');
  let header = `{'descr': '<u2', 'fortran_order': False, 'shape': (${dims}), }`;
  const unpadded = MAGIC.length + 4 + header.length + 1;
  header += ' '.repeat((ALIGN - (unpadded % ALIGN)) % ALIGN) + '\n';
  const out = new Uint8Array(MAGIC.length + 4 + header.length + data.length * 2);
  out.set(MAGIC, 0);
  out[6] = 1; // format 1.0
  out[7] = 0;
  const view = new DataView(out.buffer);
  view.setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  const base = 10 + header.length;
  for (let i = 0; i < data.length; i++) view.setUint16(base + 2 * i, data[i], true);
  return out;
}

interface NpyHeader {
  dtype: string;
  little: boolean;
  signed: boolean;
  size: 1 | 2 | 4 | 8;
  shape: number[];
  dataOffset: number;
}

/** Parse the magic, version and header dict (a Python literal; the three keys numpy writes). */
function readHeader(bytes: Uint8Array, name: string): NpyHeader {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw bad(name, 'not a .npy file (bad magic; expected a NumPy array saved with np.save)');
  const major = bytes[6];
  if (major < 1 || major > 3) throw bad(name, `unsupported .npy format version ${major}.${bytes[7]} (1.0–3.0 are read)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lenBytes = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lenBytes) throw bad(name, 'truncated .npy header');
  const len = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = 8 + lenBytes;
  if (len > MAX_HEADER || start + len > bytes.length) throw bad(name, `truncated .npy header (declares ${len} bytes, file has ${bytes.length - start})`);
  const text = new TextDecoder().decode(bytes.subarray(start, start + len)).trim();
  if (!text.startsWith('{') || !text.endsWith('}')) throw bad(name, 'malformed .npy header (not a dict)');
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(text)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(text)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(text)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) throw bad(name, 'malformed .npy header (needs descr, fortran_order and shape)');
  if (fortran === 'True') throw bad(name, 'Fortran-order arrays are not supported (save np.ascontiguousarray(a))');
  const m = /^([<>|=])([iu])([1248])$/.exec(descr);
  if (!m) throw bad(name, `dtype ${descr} is not an integer type (indices must be integers, e.g. uint16 or int64)`);
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 0)) throw bad(name, `malformed .npy shape (${shapeText})`);
  return { dtype: descr, little: m[1] !== '>', signed: m[2] === 'i', size: Number(m[3]) as 1 | 2 | 4 | 8, shape, dataOffset: start + len };
}

function reader(view: DataView, h: NpyHeader): (offset: number) => number {
  const le = h.little;
  switch (h.size) {
    case 1:
      return h.signed ? (o) => view.getInt8(o) : (o) => view.getUint8(o);
    case 2:
      return h.signed ? (o) => view.getInt16(o, le) : (o) => view.getUint16(o, le);
    case 4:
      return h.signed ? (o) => view.getInt32(o, le) : (o) => view.getUint32(o, le);
    case 8:
      return h.signed ? (o) => Number(view.getBigInt64(o, le)) : (o) => Number(view.getBigUint64(o, le));
  }
}

/** Read an integer .npy array; `name` prefixes error messages. Throws DqcError('BAD_TOKENS'). */
export function readNpy(bytes: Uint8Array, name = 'array'): NpyArray {
  const h = readHeader(bytes, name);
  const count = h.shape.reduce((a, b) => a * b, 1);
  const have = bytes.length - h.dataOffset;
  // Checked before allocating: the declared shape must match the bytes actually present.
  if (have !== count * h.size) {
    throw bad(name, `shape (${h.shape.join(', ')}) of ${h.dtype} needs ${count * h.size} data bytes, file has ${have}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const get = reader(view, h);
  const values = new Float64Array(count);
  for (let i = 0, o = h.dataOffset; i < count; i++, o += h.size) values[i] = get(o);
  return { shape: h.shape, dtype: h.dtype, values };
}
