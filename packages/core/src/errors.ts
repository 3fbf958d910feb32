/**
 * The single error type of the core. `code` is stable API (callers branch on it, the CLI maps it
 * to exit codes and messages); the message is for humans and may change.
 */
export type DqcErrorCode =
  | 'TRUNCATED'
  | 'BAD_MAGIC'
  | 'UNSUPPORTED_VERSION'
  | 'BAD_HEADER'
  | 'HEADER_CRC'
  | 'STREAM_CRC'
  | 'TRAILING_DATA'
  | 'CORRUPT_STREAM'
  | 'MODEL_MISMATCH'
  | 'ABSURD_SIZE'
  | 'BAD_INDICES'
  | 'BAD_TABLES'
  | 'BAD_MANIFEST'
  /** A token file (JSON or .npy, `dqcodec tokens`) is malformed or does not fit its model. */
  | 'BAD_TOKENS';

export class DqcError extends Error {
  readonly code: DqcErrorCode;

  constructor(code: DqcErrorCode, message: string) {
    super(message);
    this.name = 'DqcError';
    this.code = code;
  }
}

/** True when `e` is a DqcError, optionally with the given code. */
export function isDqcError(e: unknown, code?: DqcErrorCode): e is DqcError {
  return e instanceof DqcError && (code === undefined || e.code === code);
}
