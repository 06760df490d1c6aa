// @warpdrive/hzip: what applications import for the HiSilicon-style ZIP accelerator. It is the generated package
// @warpdrive/hzip-generated (client, registers, structs, commands and spec, from devices/hzip.yaml)
// plus the behaviour written by hand on top of it (behavior.ts). The sim model (model.ts) is not
// re-exported: the runtime loads it in the model thread as @warpdrive/hzip/model, the name the
// generated spec gives it.
export * from "@warpdrive/hzip-generated";
export * from "./behavior.ts";
