// @warpdrive/runtime/admin: the host administration behind `wd devices`, `wd bind`, `wd unbind` and
// `wd queues` (PCI devices and their vfio-pci binding, mediated-device queues and who holds them).
// Command functions take their argv and print through an AdminIo; they return the exit status.
export { bindCommand, clientFor, devicesCommand, takeOption, type AdminIo, type Client, type PciMatch } from "./admin/pci.ts";
export { queuesCommand, vfioGroupHolders } from "./admin/queues.ts";
