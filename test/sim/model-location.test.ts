// spec.model as the runtime resolves it: URLs pass through, package specifiers (what generated specs
// carry, "@warpdrive/<dev>/model") become the file URL of the driver package's model, and a
// specifier nothing provides is a ConfigError naming the device and the specifier.
import { describe, expect, test } from "bun:test";
import { ConfigError } from "@warpdrive/runtime";
import { resolveModelLocation } from "@warpdrive/runtime/sim/model-location";
import { spec as eduSpec } from "@warpdrive/qemu-edu-generated/spec";

describe("resolveModelLocation", () => {
  test("a URL is imported as given", () => {
    expect(resolveModelLocation("file:///x/model.ts", "dev")).toBe("file:///x/model.ts");
    expect(resolveModelLocation("data:text/javascript,export default 1", "dev")).toBe("data:text/javascript,export default 1");
  });

  test("an absolute path becomes its file URL", () => {
    expect(resolveModelLocation("/x/model.ts", "dev")).toBe("file:///x/model.ts");
  });

  test("the generated spec names the driver package's model, which resolves to devices/qemu-edu/model.ts", () => {
    expect(eduSpec.model).toBe("@warpdrive/qemu-edu/model");
    const url = resolveModelLocation(eduSpec.model!, "qemu-edu");
    expect(url.startsWith("file:///")).toBe(true);
    expect(url.endsWith("/devices/qemu-edu/model.ts")).toBe(true);
  });

  test("a specifier no installed package provides: ConfigError naming device and specifier", () => {
    let caught: unknown;
    try {
      resolveModelLocation("@warpdrive/no-such-device/model", "probe");
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as Error).message).toBe(`sim model "@warpdrive/no-such-device/model" of device probe cannot be resolved`);
  });
});
