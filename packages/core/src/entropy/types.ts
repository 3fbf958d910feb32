/** Shape of one level's index map: M codebooks, each an h × w map of indices in [0, K). */
export interface LevelShape {
  M: number;
  h: number;
  w: number;
  K: number;
}

/** One level's code indices, row-major [m][y][x] (codebook, then row, then column). */
export interface LevelIndices extends LevelShape {
  indices: Uint16Array;
}

/** Encoder input: like LevelIndices, but the indices may come straight from a model as Int32/Uint32. */
export interface LevelIndicesInput extends LevelShape {
  indices: Uint16Array | Int32Array | Uint32Array;
}

/** Codebook structure of one level (what the entropy tables are keyed on). */
export interface LevelSpec {
  M: number;
  K: number;
}
