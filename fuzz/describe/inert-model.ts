// A sim model with no behaviour: registers are plain memory and nothing ever completes. Enough for
// the description fuzzer to open a generated spec on the sim backend and request every queue, which
// is where the runtime's own checks of a spec (index widths, field alignment, rings inside their
// region, doorbell arrays) run.
import { defineModel } from "@warpdrive/runtime";

export default defineModel({
  name: "inert",
  init: () => ({}),
  poll: () => false,
});
