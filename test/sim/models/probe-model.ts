// Model of the probe test device (see specs.ts probeSpec): does one thing per command written to
// CMD, so sim-backend tests can exercise DMA, faults, interrupts and reset one at a time.
import { defineModel, DmaFault } from "@warpdrive/runtime/sim/model";
import { PROBE } from "./specs.ts";

export default defineModel({
  init(ctx) {
    const r = ctx.region("regs");
    r.write32(PROBE.ID, PROBE.ID_VALUE);
    return { r, cmd: ctx.watch("regs", PROBE.CMD), inits: 1 };
  },
  reset(ctx, s) {
    s.r.write32(PROBE.ID, PROBE.ID_VALUE);
    s.r.write32(PROBE.RESETS, (s.r.read32(PROBE.RESETS) + 1) >>> 0); // zeroed by the reset: reads 1
    return { ...s, cmd: ctx.watch("regs", PROBE.CMD) };
  },
  poll(ctx, s) {
    if (!s.cmd.changed() || s.cmd.value === 0) return false;
    const r = s.r;
    const iova = r.read64(PROBE.IOVA);
    const len = r.read32(PROBE.LEN);
    let status: number = PROBE.OK;
    try {
      switch (s.cmd.value) {
        case PROBE.CMD_READ: // host memory -> regs DATA
          r.bytes.set(ctx.dma.read(iova, len), PROBE.DATA);
          break;
        case PROBE.CMD_WRITE: // regs DATA -> host memory
          ctx.dma.write(iova, r.bytes.slice(PROBE.DATA, PROBE.DATA + len));
          break;
        case PROBE.CMD_RAISE:
          ctx.raise(Number(iova));
          break;
        case PROBE.CMD_FAULT:
          ctx.fault("probe asked to fault");
        case PROBE.CMD_THROW:
          throw new Error("model bug");
        default:
          status = PROBE.BAD_CMD;
      }
    } catch (e) {
      if (!(e instanceof DmaFault)) throw e;
      status = PROBE.DMA_FAULT;
      r.write64(PROBE.FAULT_IOVA, e.iova);
    }
    r.write32(PROBE.STATUS, status);
    s.cmd.consume();
    return true;
  },
});
