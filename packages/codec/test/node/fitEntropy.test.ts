import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DqCodec, fitEntropy, isDqcError, parseManifest } from '../../src/index.js';
import { makeModel, photoPixels, png, tmp } from './helpers.js';

describe('fitEntropy', () => {
  it('fits tables on photos, stores them in manifest.json and the codec uses them', async () => {
    const model = join(tmp(), 'm');
    cpSync(await makeModel(3), model, { recursive: true });
    const before = readFileSync(join(model, 'manifest.json'), 'utf8');
    const images = tmp('dq-photos-');
    for (let i = 0; i < 4; i++) writeFileSync(join(images, `p${i}.png`), await png(photoPixels(72, 56, 3, i + 1), 72, 56, 3));
    writeFileSync(join(images, 'broken.jpg'), 'not a jpeg');
    writeFileSync(join(images, 'notes.txt'), 'ignored');

    const probe = join(images, 'p0.png');
    const old = await DqCodec.load(model);
    const oldBytes = await old.encode(probe);
    await old.close();

    const progress: string[] = [];
    const r = await fitEntropy(model, images, { maxImages: 10, onProgress: (e) => progress.push(e.file) });
    expect(r.images).toBe(4);
    expect(r.skipped.map((s) => s.file)).toEqual(['broken.jpg']);
    expect(progress).toHaveLength(5);
    for (const l of r.levels) expect(l.bitsAfter).toBeLessThan(l.bitsBefore);

    const manifest = parseManifest(JSON.parse(readFileSync(join(model, 'manifest.json'), 'utf8')));
    const previous = JSON.parse(before);
    expect(manifest.fingerprint).toBe(previous.fingerprint);
    expect(manifest.entropy?.levelsTopFirst.map((t) => [t.M, t.K])).toEqual([[4, 64], [4, 64]]);
    expect({ ...manifest, entropy: undefined }).toEqual({ ...previous, entropy: undefined, levels: manifest.levels });

    const fitted = await DqCodec.load(model);
    const bytes = await fitted.encode(probe);
    expect(bytes.length).toBeLessThan(oldBytes.length);
    expect((await fitted.decode(bytes)).width).toBe(72);
    // Files coded with the old tables are refused, not mis-decoded.
    await expect(fitted.decode(oldBytes)).rejects.toSatisfy((e: unknown) => isDqcError(e, 'MODEL_MISMATCH'));
    await fitted.close();

    const many = await fitEntropy(model, images, { maxImages: 2 });
    expect(many.images + many.skipped.length).toBe(2);
    await expect(fitEntropy(model, join(images, 'none'))).rejects.toThrow(/no such directory/);
  });
});
