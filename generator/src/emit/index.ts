// emitDevice: the pure function from a resolved DeviceModel to the files of its package
// (relative path -> contents). Writing is generator/src/write.ts's job (Prisma's split); the model
// is the only input: hand-written code lives in the driver package (devices/<dev>/), never in here.
//
// Naming scheme of the output (what hand-written code may rely on):
//   constants, enum members     as written (UPPER_SNAKE)
//   enums                       `Name` const object + `Name` union type of its values
//   register fields             `<Reg>Fields` interface, `<Reg>Layout` const (region-prefixed on a clash)
//   regions                     `<Region>Registers` class, `<Region>Offsets` const; device member camelCase
//                               (`<region>Registers` when it would shadow device/dma/open/alloc/close)
//   structs                     `X` class, `XInit`, `XData`; bit words `<X><Field>Fields`
//   commands                    `<Cmd>Params`, `encode<Cmd>`; queue method camelCase, with a
//                               `Command` suffix when it would shadow send/recv/flush/release...
//   queues                      `<Queue>Queue` wrapper; client `<Device>Device`; `spec`
// Members are camelCase of the snake_case names. Field values up to 32 bits are numbers, wider
// ones (u64, dma addresses, register fields over 32 bits) bigint.
import generatorPackage from "../../package.json" with { type: "json" };
import type { DeviceModel } from "../model.ts";
import { clientFile } from "./client.ts";
import { commandsFile } from "./commands.ts";
import { constantsFile } from "./constants.ts";
import { enumsFile } from "./enums.ts";
import { layoutTestFile } from "./layout-test.ts";
import { indexTs, packageJson } from "./package.ts";
import { readme } from "./readme.ts";
import { registersFile } from "./registers.ts";
import { specFile } from "./spec.ts";
import { structsFile } from "./structs.ts";
import { newProject, type TsFile } from "./ts.ts";
import { headerLines, type EmitContext } from "./util.ts";
import { versionFile } from "./version.ts";
import { RUNTIME_RANGE } from "../project.ts";

export interface EmitOptions {
  /** Recorded in every header and in package.json. */
  generatorVersion?: string;
  /** The runtime range the package needs (default: from the runtime installed with the generator). */
  runtimeRange?: string;
  /** The dependency written into package.json (default: runtimeRange). */
  runtimeDependency?: string;
}

/** The generator's own version (generator/package.json), used when the caller gives none. */
export const DEFAULT_GENERATOR_VERSION: string = generatorPackage.version;

export function emitDevice(model: DeviceModel, opts: EmitOptions = {}): Map<string, string> {
  const runtimeRange = opts.runtimeRange ?? RUNTIME_RANGE;
  const ctx: EmitContext = {
    model,
    generatorVersion: opts.generatorVersion ?? DEFAULT_GENERATOR_VERSION,
    runtimeRange,
    runtimeDependency: opts.runtimeDependency ?? runtimeRange,
  };
  const project = newProject();
  const files = new Map<string, string>();
  const ts: [string, TsFile][] = [
    ["src/client.ts", clientFile(ctx)],
    ["src/commands.ts", commandsFile(ctx)],
    ["src/constants.ts", constantsFile(ctx)],
    ["src/enums.ts", enumsFile(ctx)],
    ["src/registers.ts", registersFile(ctx)],
    ["src/spec.ts", specFile(ctx)],
    ["src/structs.ts", structsFile(ctx)],
    ["src/version.ts", versionFile(ctx)],
    ["test/layout.test.ts", layoutTestFile(ctx)],
  ];
  for (const [path, file] of ts) files.set(path, file.print(project, path, ctx));
  checkExportClashes(files);
  files.set("src/index.ts", indexTs(headerLines(ctx)));
  files.set("package.json", packageJson(ctx));
  files.set("README.md", readme(ctx));
  return sorted(files);
}

/**
 * src/index.ts re-exports every module with `export *`, where two modules exporting one name is a
 * compile error far from its cause; say here which names clash and where they come from.
 */
function checkExportClashes(files: Map<string, string>): void {
  const owner = new Map<string, string>();
  const clashes: string[] = [];
  for (const [path, text] of files) {
    if (!path.startsWith("src/")) continue;
    const names = new Set([...text.matchAll(/^export (?:const|function|class|interface|type) (\w+)/gm)].map((m) => m[1]!));
    for (const n of names) {
      const first = owner.get(n);
      if (first !== undefined) clashes.push(`${n} (${first} and ${path})`);
      else owner.set(n, path);
    }
  }
  if (clashes.length > 0) throw new Error(`generated names clash; rename in the description: ${clashes.join(", ")}`);
}

/** Files in path order, so iteration (and anything written from it) is deterministic. */
function sorted(files: Map<string, string>): Map<string, string> {
  return new Map([...files.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
