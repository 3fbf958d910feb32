/**
 * Untrusted text (file names, a manifest's name, a token file's model name, messages that quote
 * them) is printed through printable(): control characters, which could move the cursor, clear
 * the screen or forge a line of output, and the Unicode controls that reorder or break lines,
 * are shown as \xHH or \u{HHHH}. Everything else, UTF-8 included, is printed as it is.
 * printable(printable(s)) = printable(s), so text can be escaped at every step it passes.
 */
import { isUserError, UserError } from './errors.js';

// C0 controls (newline and ESC included), DEL, C1 controls, bidirectional and line controls.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]/g;

export function printable(text: string): string {
  return text.replace(UNSAFE, (c) => {
    const code = c.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
  });
}

/** JSON text with the characters JSON.stringify leaves raw (DEL, C1 and Unicode controls) written as \uXXXX escapes: still the same JSON value. */
export function jsonPrintable(json: string): string {
  return json.replace(/[\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A user error with its message made printable (one line, whatever it quotes); other errors unchanged. */
export function printableError(err: unknown): unknown {
  if (!isUserError(err)) return err;
  const safe = printable(err.message);
  if (safe === err.message) return err;
  const e = new UserError(safe);
  return e;
}
