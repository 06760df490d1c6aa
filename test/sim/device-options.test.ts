// Device.open's defaults: backend and address from options, then WD_DEVICE_<NAME>, WD_DEVICE,
// WD_BACKEND (default sim). A PCI address in the environment is meant for vfio runs and is
// ignored by the sim backend, so one environment can drive a mixed test suite.
import { afterEach, describe, expect, test } from "bun:test";
import { resolveTarget } from "@warpdrive/runtime";
import { probeSpec } from "./models/specs.ts";

const saved = { ...process.env };
afterEach(() => {
  for (const k of ["WD_BACKEND", "WD_DEVICE", "WD_DEVICE_PROBE"]) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
});

describe("Device.open defaults", () => {
  test("sim when nothing is set", () => {
    delete process.env.WD_BACKEND;
    delete process.env.WD_DEVICE;
    delete process.env.WD_DEVICE_PROBE;
    expect(resolveTarget(probeSpec())).toEqual({ backend: "sim", address: undefined });
  });

  test("WD_BACKEND and the per-device address win over WD_DEVICE; options win over both", () => {
    process.env.WD_BACKEND = "vfio";
    process.env.WD_DEVICE = "0000:00:04.0";
    process.env.WD_DEVICE_PROBE = "0000:00:03.0";
    expect(resolveTarget(probeSpec())).toEqual({ backend: "vfio", address: "0000:00:03.0" });
    delete process.env.WD_DEVICE_PROBE;
    expect(resolveTarget(probeSpec())).toEqual({ backend: "vfio", address: "0000:00:04.0" });
    expect(resolveTarget(probeSpec(), { backend: "sim", address: "sim:probe/9" })).toEqual({ backend: "sim", address: "sim:probe/9" });
  });

  test("the sim backend ignores a PCI address from the environment, not one passed explicitly", () => {
    process.env.WD_BACKEND = "sim";
    process.env.WD_DEVICE = "0000:00:04.0";
    expect(resolveTarget(probeSpec()).address).toBeUndefined();
    process.env.WD_DEVICE = "sim:probe/3";
    expect(resolveTarget(probeSpec()).address).toBe("sim:probe/3");
  });

  test("an unknown backend is a clear error", () => {
    process.env.WD_BACKEND = "gpu";
    expect(() => resolveTarget(probeSpec())).toThrow(/unknown backend "gpu"/);
  });
});
