// What this process holds, read from /proc/self: the leak checks of the lifecycle, soak and DMA
// tests compare these before and after thousands of cycles.
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

/** Open file descriptors. */
export const fdCount = (): number => readdirSync("/proc/self/fd").length;

/** Lines of /proc/self/maps (Bun's own heap moves this a little: compare with some slack). */
export const mapsCount = (): number => readFileSync("/proc/self/maps", "utf8").trim().split("\n").length;

/** The runtime's own descriptors: memfd register files and eventfd interrupt lines. Bun's event
 *  loop has eventfds of its own, so compare with a baseline, not with zero. */
export const ourFdCount = (): number =>
  readdirSync("/proc/self/fd").filter((fd) => {
    try {
      return /memfd:wd |eventfd/.test(readlinkSync(`/proc/self/fd/${fd}`));
    } catch {
      return false; // closed while listing (the directory's own fd)
    }
  }).length;

/** Mappings of the runtime's memfd register files, as /proc/self/maps lines. */
export const ourMapLines = (): string[] =>
  readFileSync("/proc/self/maps", "utf8").split("\n").filter((l) => l.includes("/memfd:wd "));
