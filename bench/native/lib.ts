// The benchmark's native device library (bench/c/consumer.c), built on first use and loaded with
// bun:ffi, and the wd-dummy layout it is started with — taken from the generated package, so the C
// code repeats nothing from the description.
import { dlopen, type Pointer } from "bun:ffi";
import { DescStatus, Descriptor, MAX_COPY_SIZE, QueueOffsets, RING_DEPTH, RING_OFFSET, spec } from "@warpdrive/wd-dummy";
import { buildSharedLib } from "./build.ts";

function load(path: string) {
  return dlopen(path, {
    wdc_open: { args: ["ptr", "u32"], returns: "ptr" },
    wdc_page: { args: ["ptr"], returns: "ptr" },
    wdc_tid: { args: ["ptr"], returns: "i32" },
    wdc_irq_fd: { args: ["ptr"], returns: "i32" },
    wdc_descriptors: { args: ["ptr"], returns: "f64" },
    wdc_batches: { args: ["ptr"], returns: "f64" },
    wdc_reset: { args: ["ptr"], returns: "void" },
    wdc_close: { args: ["ptr"], returns: "void" },
    wdc_dma_map: { args: ["ptr", "f64", "f64", "f64"], returns: "i32" },
    wdc_dma_unmap: { args: ["ptr", "f64"], returns: "i32" },
    wdc_irq_wait: { args: ["ptr", "i32"], returns: "i32" },
    wdc_irq_take: { args: ["ptr"], returns: "f64" },
    wdc_client_oneway: { args: ["ptr", "ptr", "f64", "u32", "f64", "f64", "u32", "ptr"], returns: "f64" },
    wdc_client_roundtrip: { args: ["ptr", "ptr", "f64", "f64", "f64", "u32", "ptr", "ptr"], returns: "f64" },
    wdc_syscall_counter: { args: ["i32", "f64"], returns: "i32" },
    wdc_counters_enable: { args: ["ptr", "u32", "i32"], returns: "i32" },
    wdc_counter_read: { args: ["i32"], returns: "f64" },
    wdc_bucket: { args: ["f64"], returns: "u32" },
  });
}

export type ConsumerLib = ReturnType<typeof load>["symbols"];

let lib: ConsumerLib | undefined;
let whyNot: string | undefined;

/** The loaded library, or a string saying why it could not be built. */
export function consumerLib(): ConsumerLib | string {
  if (lib) return lib;
  if (whyNot) return whyNot;
  const built = buildSharedLib("consumer");
  if ("missing" in built) return (whyNot = built.missing);
  lib = load(built.path).symbols;
  return lib;
}

export function requireConsumerLib(): ConsumerLib {
  const l = consumerLib();
  if (typeof l === "string") throw new Error(`the native consumer library is not available: ${l}`);
  return l;
}

const queueSpec = spec.queues.find((q) => q.name === "cmd");
const queueRegion = spec.regions.find((r) => r.name === "queue");
if (queueSpec?.kind !== "index-ring" || queueRegion === undefined) throw new Error("@warpdrive/wd-dummy no longer has the index-ring queue cmd in region queue");

/** Size of the queue page the consumer works on. */
export const PAGE_SIZE = queueRegion.size;

/** The layout words consumer.c reads (its enum L_*, same order). */
export const LAYOUT = new Uint32Array([
  QueueOffsets.head,
  QueueOffsets.tail,
  QueueOffsets.doorbell,
  QueueOffsets.depth,
  QueueOffsets.completed,
  RING_OFFSET,
  RING_DEPTH,
  Descriptor.SIZE,
  Descriptor.LAYOUT.src.offset,
  Descriptor.LAYOUT.dst.offset,
  Descriptor.LAYOUT.size.offset,
  Descriptor.LAYOUT.status.offset,
  Descriptor.LAYOUT.cookie.offset,
  MAX_COPY_SIZE,
  DescStatus.PENDING,
  DescStatus.DONE,
  DescStatus.DMA_FAULT,
  DescStatus.BAD_SIZE,
]);

/** Pointer argument for a typed array bun:ffi passes by address. */
export type Ptr = Pointer;
