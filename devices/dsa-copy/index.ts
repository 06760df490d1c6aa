// @warpdrive/dsa-copy: what applications import for the DSA-style copy/CRC engine. It is the generated package
// @warpdrive/dsa-copy-generated (client, registers, structs, commands and spec, from devices/dsa-copy.yaml);
// the device needs no behaviour beyond the generated client. The sim model (model.ts) is not
// re-exported: the runtime loads it in the model thread as @warpdrive/dsa-copy/model, the name the
// generated spec gives it.
export * from "@warpdrive/dsa-copy-generated";
