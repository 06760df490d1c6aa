// emitDevice: the pure function from a resolved DeviceModel to the files of its package
// (relative path -> contents). No I/O here except reading hand-written files the caller did not
// pass in; writing is generator/src/write.ts's job (Prisma's split).
import type { DeviceModel } from "../model.ts";
import { constantsFile } from "./constants.ts";
import { enumsFile } from "./enums.ts";
import { registersFile } from "./registers.ts";
import { structsFile } from "./structs.ts";
import { newProject } from "./ts.ts";
import type { EmitContext } from "./util.ts";

export interface EmitOptions {
  /** Recorded in every header and in package.json; default the generator package's version. */
  generatorVersion?: string;
}

export const DEFAULT_GENERATOR_VERSION = "0.1.0";

export function emitDevice(model: DeviceModel, opts: EmitOptions = {}): Map<string, string> {
  const ctx: EmitContext = { model, generatorVersion: opts.generatorVersion ?? DEFAULT_GENERATOR_VERSION };
  const project = newProject();
  const files = new Map<string, string>();
  const ts: [string, ReturnType<typeof constantsFile>][] = [
    ["src/constants.ts", constantsFile(ctx)],
    ["src/enums.ts", enumsFile(ctx)],
    ["src/registers.ts", registersFile(ctx)],
    ["src/structs.ts", structsFile(ctx)],
  ];
  for (const [path, file] of ts) files.set(path, file.print(project, path, ctx));
  return sorted(files);
}

/** Files in path order, so iteration (and anything written from it) is deterministic. */
function sorted(files: Map<string, string>): Map<string, string> {
  return new Map([...files.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
