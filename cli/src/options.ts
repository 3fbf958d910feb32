import { InvalidArgumentError } from 'commander';

/** Commander parser for an integer flag with a lower bound. */
export function intOption(min: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`expected an integer ≥ ${min}, got "${value}"`);
    return n;
  };
}

/** Commander parser for a finite number flag with an exclusive lower bound. */
export function floatOption(above: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= above) throw new InvalidArgumentError(`expected a number > ${above}, got "${value}"`);
    return n;
  };
}

/** Commander parser for an integer flag within [min, max]. */
export function intRange(min: number, max: number, why = ''): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected an integer from ${min} to ${max}${why}, got "${value}"`);
    return n;
  };
}
