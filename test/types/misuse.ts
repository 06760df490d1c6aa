// Compile-time checks of the generated API: every `@ts-expect-error` line is a misuse the types must
// reject (tsc fails if one compiles). The lines without it must compile, so the errors are the
// misuse and not some unrelated breakage. Checked by `bun run typecheck` (root tsconfig) and by
// test/types/misuse.test.ts. Uses the golden kitchen package, which has every kind of register.
import type { DmaRef, DmaResolver, RegisterIo } from "@warpdrive/runtime";
import { Bar0Registers, QueueRegisters } from "../fixtures/golden/kitchen.expected/src/registers.ts";
import { Fuse } from "../fixtures/golden/kitchen.expected/src/enums.ts";
import { Kitchen, Sqe } from "../fixtures/golden/kitchen.expected/src/structs.ts";
import { encodeIdentify } from "../fixtures/golden/kitchen.expected/src/commands.ts";
import type { AdminQueue } from "../fixtures/golden/kitchen.expected/src/client.ts";
import { Bar0Registers as EduRegisters } from "@warpdrive/qemu-edu-generated/registers";

declare const io: RegisterIo;
declare const dma: DmaResolver;
declare const ref: DmaRef;
declare const view: DataView;
declare const admin: AdminQueue;

export function misuse(): void {
  const bar0 = new Bar0Registers(io, dma);
  const queue = new QueueRegisters(io, dma);

  // Read-only registers have no write methods.
  bar0.cap.read();
  // @ts-expect-error cap is read-only
  bar0.cap.write(0n);
  // @ts-expect-error cap is read-only
  bar0.cap.writeFields({ mqes: 1 });
  // @ts-expect-error tail is read-only
  queue.tail.write(1);
  // @ts-expect-error b16 reads clear it: read-only too
  bar0.b16.write(1);

  // A read-only field of a read-write register is not part of what a write takes.
  const edu = new EduRegisters(io, dma);
  edu.status.writeFields({ irqOnFactorial: 1 });
  edu.status.modify({ irqOnFactorial: 0 });
  // @ts-expect-error computing is a read-only field of the read-write status register
  edu.status.writeFields({ computing: 1 });
  // @ts-expect-error computing is read-only for modify too
  edu.status.modify({ computing: 0 });

  // Write-only registers have nothing to read.
  queue.doorbell.write(1);
  bar0.sqTail.at(1).writeFields({ sqt: 3 });
  // @ts-expect-error doorbell is write-only
  queue.doorbell.read();
  // @ts-expect-error sq_tail doorbells are write-only
  bar0.sqTail.at(1).fields();

  // Bus addresses take shared memory (a DmaRef), never a number.
  bar0.asq.write(ref);
  Sqe.encode(view, 0, { prp1: ref }, dma);
  encodeIdentify(view, 0, { buffer: ref }, dma);
  // @ts-expect-error asq holds a bus address
  bar0.asq.write(0x1000n);
  // @ts-expect-error prp1 is a dma-address field
  Sqe.encode(view, 0, { prp1: 0x1000 }, dma);
  // @ts-expect-error prp1 is a dma-address field (bigint neither)
  Sqe.encode(view, 0, { prp1: 0x1000n }, dma);
  // @ts-expect-error the identify buffer is a dma-address param
  admin.identify({ buffer: 4096 });
  // @ts-expect-error the setter of a dma-address field takes a DmaRef
  new Sqe(view, 0, dma).prp1 = 0x1000n;

  // Enum-typed fields take only the enum's values.
  bar0.cc.writeFields({ css: Fuse.SECOND });
  Kitchen.encode(view, 0, { kind: Fuse.FIRST });
  admin.identify({ cns: Fuse.NORMAL });
  // @ts-expect-error 7 is not a Fuse value
  bar0.cc.writeFields({ css: 7 });
  // @ts-expect-error 3 is not a Fuse value
  Kitchen.encode(view, 0, { kind: 3 });
  // @ts-expect-error 9 is not a Fuse value
  admin.identify({ cns: 9 });
  // @ts-expect-error bit field values are checked too
  Sqe.encode(view, 0, { flags: { fuse: 5 } });

  // 64-bit values are a bigint or a number (a safe integer, checked at run time), never a string.
  Sqe.encode(view, 0, { prp2: 1n });
  Sqe.encode(view, 0, { prp2: 1 });
  // @ts-expect-error prp2 is u64
  Sqe.encode(view, 0, { prp2: "1" });

  // Unknown fields and register names are errors.
  // @ts-expect-error no such field
  Sqe.encode(view, 0, { opcod: 1 });
  // @ts-expect-error no such register
  bar0.nope.read();
}
