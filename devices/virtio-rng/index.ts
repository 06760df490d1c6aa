// @warpdrive/virtio-rng: what applications import for the virtio entropy device. It is the generated package
// @warpdrive/virtio-rng-generated (client, registers, structs and spec, from devices/virtio-rng.yaml) plus the
// driver written by hand on top of it (behavior.ts). The sim model (model.ts) is not re-exported:
// the runtime loads it in the model thread as @warpdrive/virtio-rng/model, the name the generated spec gives it.
export * from "@warpdrive/virtio-rng-generated";
export * from "./behavior.ts";
