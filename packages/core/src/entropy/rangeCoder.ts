/**
 * Byte-oriented range coder with a 32-bit range and carry propagation (the scheme of LZMA's
 * rc, generalised to multi-symbol cumulative frequencies). See docs/format.md §5 for the exact
 * arithmetic; a second implementation must match it bit for bit.
 *
 * JS numbers are doubles, so `low` (up to 33 bits before a shift) and products like start·r
 * (< 2^32) stay exact integers; no value here ever exceeds 2^33. Bit operations are used only
 * where ToUint32 wrapping is exactly what the spec asks for.
 */
import { DqcError } from '../errors.js';

/** Frequency totals must not exceed this (so r = floor(range / total) ≥ 2^8). */
export const MAX_TOTAL = 1 << 16;
const TOP = 1 << 24;
const TWO32 = 4294967296;

export class RangeEncoder {
  private low = 0;
  private range = 0xffffffff;
  private cache = 0;
  private cacheSize = 1;
  private out: Uint8Array;
  private pos = 0;
  /** The first byte the LZMA scheme emits is always 0 (the interval starts inside [0,1)); skip it. */
  private skipFirst = true;

  constructor(expectedBytes = 1024) {
    this.out = new Uint8Array(Math.max(16, expectedBytes));
  }

  /** Encode the sub-interval [start, start+freq) of [0, total); caller guarantees freq ≥ 1, total ≤ MAX_TOTAL. */
  encode(start: number, freq: number, total: number): void {
    const r = Math.floor(this.range / total);
    this.low += start * r;
    this.range = freq * r;
    while (this.range < TOP) {
      this.range *= 256;
      this.shiftLow();
    }
  }

  /** Flush and return the stream; trailing zero bytes are dropped because the decoder reads zeros past the end. */
  finish(): Uint8Array {
    for (let i = 0; i < 5; i++) this.shiftLow();
    let end = this.pos;
    while (end > 0 && this.out[end - 1] === 0) end--;
    return this.out.slice(0, end);
  }

  private shiftLow(): void {
    if (this.low < 0xff000000 || this.low >= TWO32) {
      const carry = this.low >= TWO32 ? 1 : 0;
      let temp = this.cache;
      do {
        this.emit((temp + carry) & 0xff);
        temp = 0xff;
      } while (--this.cacheSize !== 0);
      this.cache = (this.low >>> 24) & 0xff;
    }
    this.cacheSize++;
    this.low = (this.low & 0x00ffffff) * 256;
  }

  private emit(byte: number): void {
    if (this.skipFirst) {
      // low + range never exceeds its initial 2^32 − 1, so the value's integer-part byte is 0.
      if (byte !== 0) throw new Error('dqc internal error: range coder lead byte is not 0');
      this.skipFirst = false;
      return;
    }
    if (this.pos === this.out.length) {
      const bigger = new Uint8Array(this.out.length * 2);
      bigger.set(this.out);
      this.out = bigger;
    }
    this.out[this.pos++] = byte;
  }
}

export class RangeDecoder {
  private range = 0xffffffff;
  private code = 0;
  private pos = 0;
  private r = 0;

  constructor(private readonly bytes: Uint8Array) {
    for (let i = 0; i < 4; i++) this.code = this.code * 256 + this.nextByte();
  }

  /**
   * First half of decoding one symbol: the target cumulative frequency in [0, total).
   * Garbage input can put it outside; that is reported instead of clamped so corruption is
   * never silently turned into plausible-looking indices.
   */
  decodeTarget(total: number): number {
    this.r = Math.floor(this.range / total);
    const v = Math.floor(this.code / this.r);
    if (v >= total) throw new DqcError('CORRUPT_STREAM', 'entropy-coded stream is corrupt (range decoder overflow)');
    return v;
  }

  /** Second half: consume the symbol whose interval [start, start+freq) contains the target. */
  consume(start: number, freq: number): void {
    this.code -= start * this.r;
    this.range = freq * this.r;
    while (this.range < TOP) {
      this.range *= 256;
      this.code = this.code * 256 + this.nextByte();
    }
  }

  /** Bytes read so far (may exceed the stream length: reads past the end yield 0). */
  get bytesRead(): number {
    return this.pos;
  }

  private nextByte(): number {
    // Reading past the end yields zeros (the encoder trims trailing zeros); work stays bounded
    // because every call is driven by a symbol the caller decided to decode.
    return this.pos < this.bytes.length ? this.bytes[this.pos++] : (this.pos++, 0);
  }
}
