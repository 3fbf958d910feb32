/**
 * Errors a user can cause (bad flags, missing files, bad data) are printed as one line without a
 * stack trace; anything else is a bug and keeps its stack.
 */
export class UserError extends Error {
  override name = 'UserError';
}

/** Error classes from the packages whose messages are meant for users. */
const USER_ERROR_NAMES = new Set(['UserError', 'ConfigError', 'DatasetError', 'CheckpointError', 'DqcError', 'ExportError', 'BackendError', 'ImageError', 'ModelError', 'FileError', 'ExecutionProviderError']);

export function isUserError(err: unknown): err is Error {
  return err instanceof Error && (USER_ERROR_NAMES.has(err.name) || USER_ERROR_NAMES.has(err.constructor.name));
}
