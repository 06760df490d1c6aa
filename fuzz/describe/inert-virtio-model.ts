// The description fuzzer's model for virtio descriptions: the sim's virtio transport (so feature
// negotiation and virtqueue setup run the runtime's real checks) around requests that do nothing.
// The journaled regions have fixed names: pipeline.ts renames the spec's virtio common and notify
// regions to them for the open. Every queue index a virtq-split queue of the spec names exists.
import { virtioModel } from "@warpdrive/runtime/sim/virtio-device";

export const INERT_VIRTIO_REGIONS = { common: "fuzz_virtio_common", notify: "fuzz_virtio_notify" } as const;

export default virtioModel({
  name: "inert-virtio",
  regions: INERT_VIRTIO_REGIONS,
  features: 0n,
  queues: (spec) => Math.max(1, ...spec.queues.map((q) => (q.kind === "virtq-split" ? q.last + 1 : 0))),
  maxQueueSize: 32768,
  init: () => ({}),
  request: () => 0,
});
