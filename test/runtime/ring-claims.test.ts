// RingClaims: the device's list of queue rings. A claimed ring refuses the caller's free() with a
// DmaError naming the queue; released (one by one, or all when the device closes) it frees again.
import { expect, test } from "bun:test";
import { DmaBuffer, DmaError } from "@warpdrive/runtime";
import { RingClaims } from "@warpdrive/runtime/ring-claims";

test("a claimed ring cannot be freed; after release it can", () => {
  const claims = new RingClaims();
  const ring = DmaBuffer.alloc(4096, { name: "sq" });
  claims.claim(ring, "io[1] SQ");
  expect(claims.size).toBe(1);
  expect(ring.owner).toBe(`queue memory "io[1] SQ"`);
  expect(() => ring.free()).toThrow(DmaError);
  expect(() => ring.free()).toThrow(/queue memory "io\[1\] SQ"/);
  claims.release(ring);
  expect(claims.size).toBe(0);
  expect(ring.owner).toBeUndefined();
  ring.free();
});

test("release of a buffer never claimed here leaves its own claim alone", () => {
  const claims = new RingClaims();
  const other = DmaBuffer.alloc(4096, { name: "mine" });
  const key = other.claim("someone else");
  claims.release(other);
  expect(other.owner).toBe("someone else");
  other.disown(key);
  other.free();
});

test("releaseAll gives every ring back, each through the caller's attempt", () => {
  const claims = new RingClaims();
  const rings = [DmaBuffer.alloc(4096, { name: "a" }), DmaBuffer.alloc(4096, { name: "b" })];
  for (const [i, r] of rings.entries()) claims.claim(r, `q${i}`);
  const seen: number[] = [];
  claims.releaseAll((fn) => {
    seen.push(seen.length);
    fn();
  });
  expect(seen).toEqual([0, 1]);
  expect(claims.size).toBe(0);
  for (const r of rings) {
    expect(r.owner).toBeUndefined();
    r.free();
  }
});
