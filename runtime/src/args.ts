// Argument checks for public entry points. Every caller is untrusted: a plain JavaScript caller, an
// `as any` or a value built at run time gets no help from the types, and the runtime is the last
// stop before a device does DMA. So each entry point reads every argument once, checks the copy
// here and uses only the copy:
//   wrong type                       -> TypeError
//   right type, out of range/integer -> RangeError
// and the message names the argument and the thing it was for (`where`: "register queue.head (queue
// of sim:wd-dummy/1)", "Device.open"). Nothing is coerced: "5" is not 5, 5n is not 5, true is not 1.
//
// The checks are typeof plus a few comparisons; nothing allocates unless the check fails, so they
// can sit on the hot path. A failing value is described without running any of its code (no
// toString/valueOf/getters/Proxy traps), so a hostile value cannot act while being reported.

/** A short description of `value` that runs none of its code: `"5"`, `5n`, `-0`, `an object`. */
export function describe(value: unknown): string {
  switch (typeof value) {
    case "number":
      return Object.is(value, -0) ? "-0" : String(value);
    case "bigint":
      return `${value}n`;
    case "string": {
      const s = value.length > 40 ? `${value.slice(0, 40)}…` : value;
      return JSON.stringify(s);
    }
    case "boolean":
      return String(value);
    case "undefined":
      return "undefined";
    case "symbol":
      return "a symbol";
    case "function":
      return "a function";
    default:
      if (value === null) return "null";
      // Array.isArray runs no user code, even on a Proxy (it asks the target, or throws if revoked)
      try {
        return Array.isArray(value) ? "an array" : "an object";
      } catch {
        return "a revoked proxy";
      }
  }
}

function typeError(where: string, name: string, expected: string, value: unknown): TypeError {
  return new TypeError(`${where}: ${name} must be ${expected}, got ${describe(value)}`);
}

function rangeError(where: string, name: string, expected: string, value: unknown): RangeError {
  return new RangeError(`${where}: ${name} must be ${expected}, got ${describe(value)}`);
}

const bounds = (min: number | bigint, max: number | bigint) => `${min}..${max}`;

/**
 * `value` as an integer in [min, max] (both inclusive, within ±2^53). A number that is not an
 * integer (1.5, NaN, ±Infinity) or lies outside is a RangeError; any other type a TypeError.
 * -0 is returned as 0.
 */
export function checkInt(value: unknown, name: string, min: number, max: number, where: string): number {
  if (typeof value !== "number") throw typeError(where, name, `an integer in ${bounds(min, max)}`, value);
  if (!(value >= min && value <= max && Number.isInteger(value))) {
    throw rangeError(where, name, `an integer in ${bounds(min, max)}`, value);
  }
  return value + 0; // -0 -> 0
}

/** `value` as a bigint in [min, max]; a number (even 5) is a TypeError: 64-bit values are BigInt. */
export function checkBigInt(value: unknown, name: string, min: bigint, max: bigint, where: string): bigint {
  if (typeof value !== "bigint") throw typeError(where, name, `a bigint in ${bounds(min, max)}`, value);
  if (value < min || value > max) throw rangeError(where, name, `a bigint in ${bounds(min, max)}`, value);
  return value;
}

/** A number (not NaN) in [min, max]; for timeouts and other quantities that need not be integers. */
export function checkNumber(value: unknown, name: string, min: number, max: number, where: string): number {
  if (typeof value !== "number") throw typeError(where, name, `a number in ${bounds(min, max)}`, value);
  if (!(value >= min && value <= max)) throw rangeError(where, name, `a number in ${bounds(min, max)}`, value);
  return value + 0;
}

/** A string, non-empty unless `allowEmpty`. */
export function checkString(value: unknown, name: string, where: string, allowEmpty = false): string {
  if (typeof value !== "string") throw typeError(where, name, "a string", value);
  if (!allowEmpty && value.length === 0) throw rangeError(where, name, "a non-empty string", value);
  return value;
}

/** true or false; 0, 1, "true" are TypeErrors. */
export function checkBoolean(value: unknown, name: string, where: string): boolean {
  if (typeof value !== "boolean") throw typeError(where, name, "true or false", value);
  return value;
}

/** One of `allowed` (strings, compared exactly). */
export function checkOneOf<T extends string>(value: unknown, name: string, allowed: readonly T[], where: string): T {
  if (typeof value === "string" && (allowed as readonly string[]).includes(value)) return value as T;
  const list = `one of ${allowed.map((a) => JSON.stringify(a)).join(", ")}`;
  throw typeof value === "string" ? rangeError(where, name, list, value) : typeError(where, name, list, value);
}

/** A function (encoders, callbacks). */
export function checkFunction<F extends (...args: never[]) => unknown>(value: unknown, name: string, where: string): F {
  if (typeof value !== "function") throw typeError(where, name, "a function", value);
  return value as F;
}

/**
 * An options bag: undefined (no options) or a plain object, not null, not an array, not a function.
 * The caller then reads each property it knows exactly once (a getter runs once) and checks that
 * copy; unknown properties are not looked at.
 */
export function checkOptions(value: unknown, name: string, where: string): Record<string, unknown> | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "object" || value === null) throw typeError(where, name, "an object or undefined", value);
  let isArray: boolean;
  try {
    isArray = Array.isArray(value);
  } catch {
    throw typeError(where, name, "an object or undefined", value); // a revoked proxy
  }
  if (isArray) throw typeError(where, name, "an object or undefined", value);
  return value as Record<string, unknown>;
}

/**
 * An object of one of our classes, recognised by `isBrand` (a `#field in v` check of the class):
 * unlike instanceof, a brand check runs no Proxy trap and cannot be fooled by a prototype.
 */
export function checkBrand<T>(value: unknown, isBrand: (v: object) => v is object & T, typeName: string, name: string, where: string): T {
  if (typeof value !== "object" || value === null || !isBrand(value)) throw typeError(where, name, `a ${typeName}`, value);
  return value;
}

/** An optional argument: undefined stays undefined, anything else goes through `check`. */
export function optional<T>(value: unknown, check: (v: unknown) => T): T | undefined {
  return value === undefined ? undefined : check(value);
}
