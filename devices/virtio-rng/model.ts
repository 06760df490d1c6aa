// Sim model of a virtio entropy device (virtio 1.2, 5.4): one virtqueue (requestq); the driver
// makes device-writable buffers available and the device fills them with random bytes, reporting
// how many in the used length. No device-specific features and no configuration structure.
// The transport (feature negotiation, queues, notifications) is the shared virtio model.
import { scatter, totalLength, virtioModel } from "@warpdrive/runtime/sim/virtio-device";

/** Most bytes one request gets (QEMU's virtio-rng also answers with at most what its source gives). */
export const MAX_PER_REQUEST = 64 * 1024;

export default virtioModel({
  name: "virtio-rng",
  regions: { common: "common", notify: "notify" },
  features: 0n,
  queues: 1,
  maxQueueSize: 256,
  init: () => ({}),
  request(ctx, _state, _queue, chain) {
    // readable buffers are ignored (5.4.6.1: the device only writes)
    const n = Math.min(totalLength(chain.writable), MAX_PER_REQUEST);
    const bytes = new Uint8Array(n);
    for (let at = 0; at < n; at += 65536) crypto.getRandomValues(bytes.subarray(at, Math.min(n, at + 65536)));
    return scatter(ctx, chain.writable, bytes);
  },
});
