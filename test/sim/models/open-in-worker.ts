// A Worker that opens a wd-dummy sim device, reports its address, and closes it when told to
// (the identity test: devices opened in different Workers of one process have distinct addresses;
// a Worker that closes before it is terminated leaves nothing behind).
import { WdDummyDevice } from "@warpdrive/wd-dummy";

declare const self: Worker;

const dev = await WdDummyDevice.open({ backend: "sim" });
dev.alloc(4096, "worker-buffer");
self.onmessage = (e: MessageEvent) => {
  if (e.data === "close") {
    dev.close();
    self.postMessage("closed");
  }
};
self.postMessage(dev.device.address);
