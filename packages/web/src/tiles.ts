/**
 * Tiled inference (overlapping tiles with receptive-field margins, so the result equals an untiled
 * run) is shared with the Node decoder. The module is pure TypeScript but lives under
 * packages/codec/src/node/ and is not in @dqcodec/codec's exports map, hence the relative import:
 * when it moves to the core (or gets exported), change this one line.
 */
export { modelMargins, planTiles, type Tile, type TileMargins } from '../../codec/src/node/tiling.js';
