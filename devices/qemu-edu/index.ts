// @warpdrive/qemu-edu: what applications import for QEMU's edu device. It is the generated package
// @warpdrive/qemu-edu-generated (client, registers, structs, commands and spec, from devices/qemu-edu.yaml)
// plus the behaviour written by hand on top of it (behavior.ts). The sim model (model.ts) is not
// re-exported: the runtime loads it in the model thread as @warpdrive/qemu-edu/model, the name the
// generated spec gives it.
export * from "@warpdrive/qemu-edu-generated";
export * from "./behavior.ts";
