// Writer side of portal-store.test.ts: stores `count` descriptors through a MailboxPort, each
// filled with its sequence number, as fast as the mailbox takes them (a dedicated queue waits).
import { MailboxPort } from "@warpdrive/runtime/sim/portal-mailbox";

declare const self: Worker;

self.onmessage = (e: MessageEvent<{ mailbox: Int32Array; count: number }>) => {
  const port = new MailboxPort(e.data.mailbox, false, () => {});
  const desc = new Uint8Array(64);
  const v = new DataView(desc.buffer);
  for (let i = 0; i < e.data.count; i++) {
    for (let k = 0; k < 64; k += 4) v.setUint32(k, i, true);
    port.submit(0, desc, 0);
  }
  self.postMessage("done");
};
