// A model whose power-on fails: Device.open must reject with the model's message.
import { defineModel } from "@warpdrive/runtime/sim/model";

export default defineModel({
  init(ctx) {
    ctx.fault("self-test failed at power-on");
  },
  poll: () => false,
});
