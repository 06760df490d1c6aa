export { IndexRingQueue } from "./index-ring.ts";
export { SqCqQueue, type SqCqOptions } from "./sq-cq.ts";
export { PortalQueue } from "./portal.ts";
export type { Completion, Encoder, Queue, QueueHost } from "./types.ts";
export { waitForCompletion, SPIN_US, SLICE_MS } from "./wait.ts";
export { VirtqSplitQueue, chainEncoder, type VirtqBuffer, type VirtqDone, type VirtqRequest, type VirtqOptions } from "./virtq-split.ts";
