// Struct variants are typed per case: each case's Init has exactly its own fields (a fill has a
// pattern and no source address; only dualcast has dest2), the selector is the encoder's to set,
// and decoded data narrows by `variant`. Checked by test/types/variants.test.ts: each line after an
// expect-error marker must fail tsc, and nothing else may.
import type { DmaRef } from "@warpdrive/runtime";
import { decodeDescriptorVariant, encodeDescriptorVariant, type DescriptorVariantInit } from "@warpdrive/dsa-copy-generated/structs";

declare const ref: DmaRef;
declare const view: DataView;

export function encodes(): void {
  encodeDescriptorVariant(view, 0, { variant: "fill", pattern: 0x0101010101010101n, dstAddr: ref, xferSize: 64 });
  encodeDescriptorVariant(view, 0, { variant: "dualcast", srcAddr: ref, dstAddr: ref, dest2: ref, xferSize: 64 });
  encodeDescriptorVariant(view, 0, { variant: "batch", descListAddr: ref, descCount: 2, opFlags: { completionAddrValid: 1 } });
  encodeDescriptorVariant(view, 0, { variant: "crc_gen", srcAddr: ref, xferSize: 8, crcSeed: 1 });
  encodeDescriptorVariant(view, 0, { variant: "compare", srcAddr: ref, src2Addr: ref, xferSize: 8, expectedRes: 1, opFlags: { checkResult: 1 } });
  const list: DescriptorVariantInit[] = [{ variant: "memmove", srcAddr: ref, dstAddr: ref, xferSize: 1 }, { variant: "drain" }];
  void list;
  // @ts-expect-error dest2 belongs to dualcast, not fill
  encodeDescriptorVariant(view, 0, { variant: "fill", pattern: 1n, dstAddr: ref, dest2: ref, xferSize: 64 });
  // @ts-expect-error a fill's pattern lies over the source address: it has no srcAddr
  encodeDescriptorVariant(view, 0, { variant: "fill", srcAddr: ref, pattern: 1n, xferSize: 64 });
  // @ts-expect-error crc_gen has no destination
  encodeDescriptorVariant(view, 0, { variant: "crc_gen", srcAddr: ref, dstAddr: ref, xferSize: 8 });
  // @ts-expect-error the opcode is the variant's to set, not the caller's
  encodeDescriptorVariant(view, 0, { variant: "memmove", opFlags: { opcode: 3 }, srcAddr: ref, dstAddr: ref, xferSize: 8 });
  // @ts-expect-error a batch counts descriptors in descCount, it has no xferSize
  encodeDescriptorVariant(view, 0, { variant: "batch", descListAddr: ref, xferSize: 2 });
  // @ts-expect-error no such variant
  encodeDescriptorVariant(view, 0, { variant: "memcopy", srcAddr: ref });
  // @ts-expect-error the variant is required
  encodeDescriptorVariant(view, 0, { srcAddr: ref, dstAddr: ref, xferSize: 8 });
  // @ts-expect-error the pattern is a number or bigint, not a buffer
  encodeDescriptorVariant(view, 0, { variant: "compare_pattern", srcAddr: ref, compPattern: ref, xferSize: 8 });
}

export function decodes(): bigint {
  const d = decodeDescriptorVariant(view, 0);
  if (d === undefined) return 0n;
  if (d.variant === "fill") return d.pattern;
  // @ts-expect-error only fill has a pattern: the other cases do not
  return d.pattern;
}
