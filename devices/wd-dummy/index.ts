// @warpdrive/wd-dummy: what applications import for the dummy memcpy accelerator. It is the generated package
// @warpdrive/wd-dummy-generated (client, registers, structs, commands and spec, from devices/wd-dummy.yaml);
// the device needs no behaviour beyond the generated client. The sim model (model.ts) is not
// re-exported: the runtime loads it in the model thread as @warpdrive/wd-dummy/model, the name the
// generated spec gives it.
export * from "@warpdrive/wd-dummy-generated";
