// @warpdrive/virtio-blk: what applications import for the virtio block device. It is the generated package
// @warpdrive/virtio-blk-generated (client, registers, structs and spec, from devices/virtio-blk.yaml) plus the
// driver written by hand on top of it (behavior.ts). The sim model (model.ts) is not re-exported:
// the runtime loads it in the model thread as @warpdrive/virtio-blk/model, the name the generated spec gives it.
export * from "@warpdrive/virtio-blk-generated";
export * from "./behavior.ts";
