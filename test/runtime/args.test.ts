// The argument checkers every public entry point uses: the error class says what was wrong (type vs
// range), the message names the argument and where, and no caller code runs while checking.
import { expect, test } from "bun:test";
import { checkBigInt, checkBoolean, checkBrand, checkFunction, checkInt, checkNumber, checkOneOf, checkOptions, checkString, describe, optional } from "@warpdrive/runtime/args";

test("checkInt: integers in range pass, -0 comes back as 0", () => {
  expect(checkInt(5, "id", 1, 64, "queue q")).toBe(5);
  expect(checkInt(1, "id", 1, 64, "queue q")).toBe(1);
  expect(checkInt(64, "id", 1, 64, "queue q")).toBe(64);
  expect(Object.is(checkInt(-0, "x", -1, 1, "w"), 0)).toBe(true);
});

test("checkInt: other types are TypeErrors, bad numbers RangeErrors, both naming argument and place", () => {
  for (const v of ["5", 5n, true, null, undefined, {}, [], () => 5, Symbol("s")]) {
    expect(() => checkInt(v, "id", 1, 64, "queue wd/cmd")).toThrow(TypeError);
    expect(() => checkInt(v, "id", 1, 64, "queue wd/cmd")).toThrow(/^queue wd\/cmd: id must be an integer in 1\.\.64, got /);
  }
  for (const v of [0, 65, 1.5, NaN, Infinity, -Infinity, 2 ** 53]) {
    expect(() => checkInt(v, "id", 1, 64, "queue wd/cmd")).toThrow(RangeError);
  }
  // the message quotes the string it was given: no self-contradiction like "id 1 is outside 1..64"
  expect(() => checkInt("1", "id", 1, 64, "queue wd/cmd")).toThrow('queue wd/cmd: id must be an integer in 1..64, got "1"');
});

test("no caller code runs while checking or describing a value", () => {
  let ran = 0;
  const hostile = {
    valueOf() { ran++; return 3; },
    toString() { ran++; return "3"; },
    get [Symbol.toPrimitive]() { ran++; return () => 3; },
  };
  const proxy = new Proxy({}, { get() { ran++; return 1; }, getPrototypeOf() { ran++; return null; }, ownKeys() { ran++; return []; } });
  for (const v of [hostile, proxy]) {
    expect(() => checkInt(v, "offset", 0, 10, "w")).toThrow(TypeError);
    expect(() => checkBigInt(v, "v", 0n, 1n, "w")).toThrow(TypeError);
    expect(() => checkString(v, "name", "w")).toThrow(TypeError);
    expect(() => checkOneOf(v, "backend", ["sim", "vfio"], "w")).toThrow(TypeError);
    expect(describe(v)).toBe("an object");
  }
  expect(ran).toBe(0);
  const { proxy: revoked, revoke } = Proxy.revocable({}, {});
  revoke();
  expect(describe(revoked)).toBe("a revoked proxy");
  expect(() => checkOptions(revoked, "options", "Device.open")).toThrow(TypeError);
});

test("checkBigInt: 64-bit values are BigInt only", () => {
  expect(checkBigInt(5n, "v", 0n, 2n ** 64n - 1n, "register r")).toBe(5n);
  expect(() => checkBigInt(5, "v", 0n, 10n, "register r")).toThrow("register r: v must be a bigint in 0..10, got 5");
  expect(() => checkBigInt(11n, "v", 0n, 10n, "register r")).toThrow(RangeError);
  expect(() => checkBigInt(-1n, "v", 0n, 10n, "register r")).toThrow("got -1n");
});

test("checkNumber, checkString, checkBoolean, checkOneOf, checkFunction, optional", () => {
  expect(checkNumber(1.5, "timeoutMs", 0, 10, "w")).toBe(1.5);
  expect(() => checkNumber(NaN, "timeoutMs", 0, 10, "w")).toThrow(RangeError);
  expect(() => checkNumber("100", "timeoutMs", 0, 10, "w")).toThrow(TypeError);
  expect(checkString("cmd", "name", "w")).toBe("cmd");
  expect(() => checkString("", "name", "w")).toThrow(RangeError);
  expect(checkString("", "name", "w", true)).toBe("");
  expect(checkBoolean(false, "unified", "w")).toBe(false);
  expect(() => checkBoolean(0, "unified", "w")).toThrow("w: unified must be true or false, got 0");
  expect(checkOneOf("vfio", "backend", ["sim", "vfio"], "w")).toBe("vfio");
  expect(() => checkOneOf("nope", "backend", ["sim", "vfio"], "w")).toThrow('w: backend must be one of "sim", "vfio", got "nope"');
  expect(() => checkOneOf(42, "backend", ["sim", "vfio"], "w")).toThrow(TypeError);
  const f = () => 1;
  expect(checkFunction(f, "encode", "w")).toBe(f);
  expect(() => checkFunction(42, "encode", "w")).toThrow("w: encode must be a function, got 42");
  expect(optional(undefined, (v) => checkInt(v, "id", 0, 1, "w"))).toBeUndefined();
  expect(() => optional(null, (v) => checkInt(v, "id", 0, 1, "w"))).toThrow("got null");
});

test("checkOptions: undefined or a plain object", () => {
  expect(checkOptions(undefined, "options", "w")).toBeUndefined();
  const o = Object.freeze({ a: 1 });
  expect(checkOptions(o, "options", "w")).toBe(o);
  for (const v of [null, 42, "x", [], () => 1]) expect(() => checkOptions(v, "options", "w")).toThrow(TypeError);
});

test("checkBrand: a brand check, not instanceof (a faked prototype does not pass)", () => {
  class Thing {
    #brand = true;
    static is(v: object): v is Thing {
      return #brand in v;
    }
  }
  const t = new Thing();
  expect(checkBrand(t, Thing.is, "Thing", "thing", "w")).toBe(t);
  expect(() => checkBrand(Object.create(Thing.prototype), Thing.is, "Thing", "thing", "w")).toThrow("w: thing must be a Thing, got an object");
  expect(() => checkBrand(new Proxy(t, {}), Thing.is, "Thing", "thing", "w")).toThrow(TypeError);
});
