// @warpdrive/nvme: what applications import for NVM Express controllers. It is the generated package
// @warpdrive/nvme-generated (client, registers, structs, commands and spec, from devices/nvme.yaml)
// plus the behaviour written by hand on top of it (behavior.ts). The sim model (model.ts) is not
// re-exported: the runtime loads it in the model thread as @warpdrive/nvme/model, the name the
// generated spec gives it.
export * from "@warpdrive/nvme-generated";
export * from "./behavior.ts";
