// RUNTIME_VERSION is what generated packages check at import time; it must be the published version.
import { expect, test } from "bun:test";
import { RUNTIME_VERSION } from "@warpdrive/runtime";
import runtimePackage from "@warpdrive/runtime/package.json" with { type: "json" };

test("RUNTIME_VERSION is runtime/package.json's version", () => {
  expect(RUNTIME_VERSION).toBe(runtimePackage.version);
});
