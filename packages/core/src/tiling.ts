/**
 * Tiled inference: large images run through the graphs in overlapping tiles so that memory is
 * bounded by the tile size, not the image size.
 *
 * A tile is a "core" rectangle of the padded image (a multiple of the model's total stride S, so
 * every level's grid and every stride-2 layer line up exactly with the full image) plus a margin
 * on each side, clipped to the padded image. The graph runs on core + margin and only the core of
 * its output is kept. When the margin covers the receptive field of every kept output, the
 * result is the same function of the same inputs as an untiled run — zero padding at the tile's
 * edge only affects outputs inside the margin — so the stitched index maps and reconstructions
 * equal the untiled ones (up to floating-point summation order inside the runtime's kernels).
 *
 * Receptive fields are derived from the architecture in manifest.config (the layer structure of
 * packages/train/src/model/architecture.ts: k4/s2/p1 down-sampling convs, 3×3 convs, residual
 * stacks, k4/s2/p1 transposed convs). A manifest may override them with
 * `tileMargins: { encoder, decoder }` in image pixels.
 */
import { MAX_RES_BLOCKS, MAX_TILE_MARGIN, type Manifest } from './manifest.js';

/** Dependency interval of a tensor element at stride s: image pixels [s·j + lo, s·j + hi]. */
interface Support {
  s: number;
  lo: number;
  hi: number;
}

function conv(x: Support, k: number, stride = 1): Support {
  const pad = k === 4 && stride === 2 ? 1 : (k - 1) / 2;
  return { s: x.s * stride, lo: x.lo - x.s * pad, hi: x.hi + x.s * (k - 1 - pad) };
}

/** ConvTranspose k=4, s=2, p=1: output o reads inputs ceil((o−2)/2) … floor((o+1)/2). */
function convT(x: Support): Support {
  return { s: x.s / 2, lo: x.lo - x.s, hi: x.hi + x.s / 2 };
}

function union(a: Support, b: Support): Support {
  if (a.s !== b.s) throw new Error(`internal: union of supports at strides ${a.s} and ${b.s}`);
  return { s: a.s, lo: Math.min(a.lo, b.lo), hi: Math.max(a.hi, b.hi) };
}

/** n residual blocks (3×3 conv, 1×1 conv, skip): each widens the support by one 3×3 conv. */
function resStack(x: Support, n: number): Support {
  for (let i = 0; i < n; i++) x = union(x, conv(x, 3));
  return x;
}

/** Pixels an output at stride s needs beyond its own cell, on either side. */
function margin(x: Support): number {
  return Math.max(-x.lo, x.hi - (x.s - 1));
}

export interface ArchitectureSummary {
  strides: number[];
  resBlocks: number;
}

export interface TileMargins {
  /** Encoder + quantizer: image pixels each index depends on beyond its cell. */
  encoder: number;
  /** Decoder: index-map context (in image pixels) each output pixel depends on. */
  decoder: number;
}

/** Exact receptive-field margins (in image pixels, not rounded) of the DQ-AE architecture. */
export function architectureMargins(arch: ArchitectureSummary): TileMargins {
  const { strides, resBlocks } = arch;
  const L = strides.length;
  // Encoder: e_l at stride s_l.
  const e: Support[] = [];
  let x: Support = { s: 1, lo: 0, hi: 0 };
  let prev = 1;
  for (let l = 0; l < L; l++) {
    for (let s = prev; s < strides[l]; s *= 2) x = conv(x, 4, 2);
    x = resStack(conv(x, 3), resBlocks);
    e.push(x);
    prev = strides[l];
  }
  // Quantizer, top-down: z_l = 1×1(e_l [, c_l]); c_{l−1} = up(res(3×3(q_l)) [+ c_l]).
  let enc = 0;
  let c: Support | null = null;
  for (let l = L - 1; l >= 0; l--) {
    const z = c ? union(e[l], c) : e[l];
    enc = Math.max(enc, margin(z));
    if (l > 0) {
      let h = resStack(conv(z, 3), Math.min(resBlocks, 1));
      if (c) h = union(h, c);
      for (let s = strides[l]; s > strides[l - 1]; s /= 2) h = convT(h);
      c = h;
    }
  }
  // Decoder: u_l = up(3×3(q_l)) to stride s_0; 3×3 over concat(u); res stack; up to stride 1.
  let u: Support | null = null;
  for (let l = 0; l < L; l++) {
    let h = conv({ s: strides[l], lo: 0, hi: strides[l] - 1 }, 3);
    for (let s = strides[l]; s > strides[0]; s /= 2) h = convT(h);
    u = u ? union(u, h) : h;
  }
  let d = resStack(conv(u as Support, 3), resBlocks);
  while (d.s > 1) d = convT(d);
  return { encoder: enc, decoder: margin(d) };
}

function roundUp(n: number, m: number): number {
  return Math.ceil(n / m) * m;
}

/** Tile margins of a model, rounded up to its total stride. */
export function modelMargins(manifest: Manifest): TileMargins {
  const S = manifest.totalStride;
  // parseManifest range-checks both (MAX_TILE_MARGIN, MAX_RES_BLOCKS); values outside are ignored here too.
  const override = manifest.tileMargins as Partial<TileMargins> | undefined;
  const margin = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= MAX_TILE_MARGIN;
  if (override && margin(override.encoder) && margin(override.decoder)) {
    return { encoder: roundUp(override.encoder, S), decoder: roundUp(override.decoder, S) };
  }
  const cfg = (manifest.config ?? {}) as { resBlocks?: unknown };
  const resBlocks = typeof cfg.resBlocks === 'number' && Number.isInteger(cfg.resBlocks) && cfg.resBlocks >= 0 && cfg.resBlocks <= MAX_RES_BLOCKS ? cfg.resBlocks : 16;
  const m = architectureMargins({ strides: manifest.levels.map((l) => l.stride), resBlocks });
  return { encoder: roundUp(m.encoder, S), decoder: roundUp(m.decoder, S) };
}

export interface Rect {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

export interface Tile {
  /** The part of the output this tile produces. */
  core: Rect;
  /** What the graph runs on: core + margin, clipped to the padded image. */
  region: Rect;
}

/**
 * Cover a paddedWidth × paddedHeight image (multiples of `stride`) with tiles whose cores are at
 * most `tile` pixels square (`tile` a multiple of `stride`). An image that fits in one tile gets a
 * single tile covering it (exactly an untiled run).
 */
export function planTiles(paddedWidth: number, paddedHeight: number, tile: number, marginPx: number, stride: number): Tile[] {
  if (tile % stride !== 0 || marginPx % stride !== 0 || paddedWidth % stride !== 0 || paddedHeight % stride !== 0) {
    throw new Error(`internal: tiles must align to the stride ${stride}`);
  }
  const tiles: Tile[] = [];
  const cols = Math.ceil(paddedWidth / tile);
  const rows = Math.ceil(paddedHeight / tile);
  // Spread the cores evenly (each a multiple of the stride) instead of leaving a thin last tile.
  const cuts = (size: number, n: number): number[] => {
    const units = size / stride;
    return Array.from({ length: n + 1 }, (_, i) => Math.round((units * i) / n) * stride);
  };
  const xs = cuts(paddedWidth, cols);
  const ys = cuts(paddedHeight, rows);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const core = { x0: xs[c], y0: ys[r], x1: xs[c + 1], y1: ys[r + 1] };
      const region = {
        x0: Math.max(0, core.x0 - marginPx),
        y0: Math.max(0, core.y0 - marginPx),
        x1: Math.min(paddedWidth, core.x1 + marginPx),
        y1: Math.min(paddedHeight, core.y1 + marginPx),
      };
      tiles.push({ core, region });
    }
  }
  return tiles;
}
