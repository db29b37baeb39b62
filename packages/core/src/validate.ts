/**
 * Argument checks for everything a caller hands the engine, in one place (as noble's `abytes`):
 * a wrong type is a TypeError, a wrong size or value a RangeError, and the message names the
 * argument. These are local bugs, never remote input: bytes from the network are parsed, not checked.
 */

function describe(value: unknown): string {
  if (value === null) return "null";
  if (value instanceof Uint8Array) return `${value.length} bytes`;
  return Array.isArray(value) ? "an array" : typeof value;
}

/** `value` is a Uint8Array (of exactly `length` bytes, when given). */
export function abytes(value: unknown, length: number | undefined, title: string): Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new TypeError(`${title}: expected a Uint8Array, got ${describe(value)}`);
  }
  if (length !== undefined && value.length !== length) {
    throw new RangeError(`${title}: expected ${length} bytes, got ${value.length}`);
  }
  return value;
}

/** `value` is a finite number. */
export function anumber(value: unknown, title: string): number {
  if (typeof value !== "number")
    throw new TypeError(`${title}: expected a number, got ${describe(value)}`);
  if (!Number.isFinite(value))
    throw new RangeError(`${title}: expected a finite number, got ${value}`);
  return value;
}

/** `value` is a function. */
export function afunction<F>(value: F | undefined, title: string): F {
  if (typeof value !== "function") {
    throw new TypeError(`${title}: expected a function, got ${describe(value)}`);
  }
  return value;
}
