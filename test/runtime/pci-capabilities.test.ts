// The PCI capability walk reads device memory: pointers and lengths are the device's word.
import { describe, expect, test } from "bun:test";
import { RamIo } from "@warpdrive/runtime";
import { vendorCapabilities, walkCapabilities, writeVendorCapabilities } from "@warpdrive/runtime/pci/capabilities";
import { COMMON, COMMON_CFG_SIZE, DESC_SIZE, F_ACCESS_PLATFORM, F_EVENT_IDX, F_INDIRECT_DESC, F_VERSION_1, needEvent } from "@warpdrive/runtime/virtio/constants";

function config(): RamIo {
  return new RamIo(new ArrayBuffer(256), 0, 256, "test config space");
}

describe("PCI capabilities", () => {
  test("written and walked back: type, BAR, offset, length, multiplier", () => {
    const c = config();
    writeVendorCapabilities(c, { vendor: 0x1af4, device: 0x1042 }, [
      { cfgType: 1, bar: 4, capId: 0, offset: 0, length: 0x1000 },
      { cfgType: 2, bar: 4, capId: 0, offset: 0x3000, length: 0x1000, multiplier: 4 },
    ]);
    expect(c.read16(0)).toBe(0x1af4);
    const caps = vendorCapabilities(c, "test");
    expect(caps.map((x) => [x.cfgType, x.bar, x.offset, x.length, x.multiplier])).toEqual([
      [1, 4, 0, 0x1000, undefined],
      [2, 4, 0x3000, 0x1000, 4],
    ]);
  });

  test("no list: no capabilities", () => {
    expect(walkCapabilities(config(), "test")).toEqual([]);
  });

  test("a loop, or a pointer into the header, is an error naming the device", () => {
    const c = config();
    c.write16(0x06, 0x10);
    c.write8(0x34, 0x40);
    c.write8(0x40, 0x09);
    c.write8(0x41, 0x40); // points at itself
    expect(() => walkCapabilities(c, "dev X")).toThrow(/dev X: the PCI capability list does not end/);
    c.write8(0x41, 0x10);
    expect(() => walkCapabilities(c, "dev X")).toThrow(/pointer 0x10 lies outside/);
  });

  test("a vendor capability too short for the virtio layout is skipped, not misread", () => {
    const c = config();
    c.write16(0x06, 0x10);
    c.write8(0x34, 0x40);
    c.write8(0x40, 0x09);
    c.write8(0x41, 0);
    c.write8(0x42, 8); // cap_len 8
    expect(vendorCapabilities(c, "test")).toEqual([]);
  });
});

describe("virtio numbers (virtio 1.2)", () => {
  test("feature bits, common configuration offsets, descriptor size", () => {
    expect([F_INDIRECT_DESC, F_EVENT_IDX, F_VERSION_1, F_ACCESS_PLATFORM]).toEqual([28, 29, 32, 33]);
    expect([COMMON.deviceStatus, COMMON.queueSelect, COMMON.queueNotifyOff, COMMON.queueDesc, COMMON.queueDevice]).toEqual([0x14, 0x16, 0x1e, 0x20, 0x30]);
    expect(COMMON_CFG_SIZE).toBe(0x38);
    expect(DESC_SIZE).toBe(16);
  });

  test("vring_need_event, across the 16-bit wrap", () => {
    expect(needEvent(5, 6, 5)).toBe(true);
    expect(needEvent(5, 5, 4)).toBe(false);
    expect(needEvent(0xffff, 0, 0xfffe)).toBe(true);
    expect(needEvent(10, 20, 15)).toBe(false);
  });
});
