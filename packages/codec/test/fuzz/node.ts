/**
 * Fuzz cases through the whole Node decoder (DqCodec.decode: header checks against the model,
 * entropy decoding, onnxruntime, alpha), on real files encoded by the model under test (also
 * with its learned prior when it has one).
 */
import type { DqCodec } from '../../src/index.js';
import { alphaPlane, photoPixels, png, rgba } from '../node/helpers.js';
import { checkMayDecode, describeCase, FuzzFailure, rejectionReason, type BaseFile, type FuzzCase } from '../../../core/test/fuzz/harness.js';

/** Sizes and channel layouts worth mutating: ordinary, 1×1, a strip, RGBA, grey, grey + alpha. */
export async function nodeCorpus(codec: DqCodec): Promise<BaseFile[]> {
  const a = alphaPlane(40, 28);
  const greyAlpha = Uint8Array.from({ length: 24 * 24 * 2 }, (_, i) => (i % 2 ? (i * 5) & 255 : (i * 3) & 255));
  const images: [string, Buffer][] = [
    ['61×45 RGB', await png(photoPixels(61, 45), 61, 45, 3)],
    ['1×1 RGB', await png(photoPixels(1, 1), 1, 1, 3)],
    ['1×40 strip', await png(photoPixels(1, 40), 1, 40, 3)],
    ['40×28 RGBA', await png(rgba(photoPixels(40, 28), a), 40, 28, 4)],
    ['30×20 grey', await png(photoPixels(30, 20, 1), 30, 20, 1)],
    ['24×24 grey+alpha', await png(greyAlpha, 24, 24, 2)],
  ];
  const out: BaseFile[] = [];
  for (const [name, image] of images) out.push({ name, bytes: await codec.encode(image) });
  // A rate model also writes method-3 ('conditional') files: mutate those through the decoder too.
  if (codec.manifest.prior) {
    for (const [name, image] of [images[0], images[3]]) out.push({ name: `${name}, conditional`, bytes: await codec.encode(image, { method: 'conditional' }) });
  }
  return out;
}

/** One case through DqCodec.decode; decoded images must have the size their header says. */
export async function runNodeCase(codec: DqCodec, c: FuzzCase): Promise<string> {
  try {
    const img = await codec.decode(c.mutant.bytes, { levels: c.preview ? 1 : undefined });
    checkMayDecode(c);
    if (img.pixels.length !== img.width * img.height * img.channels || img.width !== img.header.width || img.height !== img.header.height) {
      throw new FuzzFailure(`${describeCase(c)} decoded an image of the wrong size`);
    }
    return 'decoded';
  } catch (err) {
    if (err instanceof FuzzFailure) throw err;
    return rejectionReason(err, c, ['DqcError']);
  }
}
