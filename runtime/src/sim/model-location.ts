// Where a device's sim model is: `spec.model` is either a URL (file:, or any other scheme Bun
// imports) or a package specifier such as "@warpdrive/qemu-edu/model". Generated specs use the
// specifier because the model lives in the device's driver package, which depends on the generated
// package: the generated code cannot name a file of the package above it, only its public name.
// The specifier is resolved the way the application would import it (from its working directory
// and from its main module), then from the runtime's own place in node_modules, where a package
// manager puts sibling packages. The model thread imports the resulting file URL, so it never
// resolves anything itself.
import { dirname } from "node:path";
import { pathToFileURL } from "node:url";
import { ConfigError } from "../errors.ts";

/** True for "file:...", "data:..." and other absolute URLs; false for package specifiers and paths. */
function isUrl(location: string): boolean {
  return /^[a-z][a-z0-9+.-]*:/i.test(location) && !/^[a-z]:[\\/]/i.test(location);
}

/** Folders to resolve a package specifier from, most specific to the application first. */
function resolutionBases(): string[] {
  const bases = [process.cwd()];
  if (typeof Bun !== "undefined" && Bun.main) bases.push(dirname(Bun.main));
  bases.push(import.meta.dir);
  return [...new Set(bases)];
}

/**
 * The URL to import for `location` (spec.model of device `device`). Throws ConfigError naming the
 * device and the specifier when no base resolves it.
 */
export function resolveModelLocation(location: string, device: string): string {
  if (isUrl(location)) return location;
  if (location.startsWith("/")) return pathToFileURL(location).href;
  for (const base of resolutionBases()) {
    try {
      return pathToFileURL(Bun.resolveSync(location, base)).href;
    } catch {
      // not reachable from this base; try the next
    }
  }
  throw new ConfigError(`sim model "${location}" of device ${device} cannot be resolved`, {
    hint: `install the driver package that provides it (bun add ${packageOf(location)}), or give spec.model as a file URL`,
  });
}

/** "@scope/name/sub" -> "@scope/name"; "name/sub" -> "name". */
function packageOf(specifier: string): string {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!;
}
