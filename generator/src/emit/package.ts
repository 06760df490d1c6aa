// package.json, src/index.ts and the copies of hand-written files: the package's frame.
import type { DeviceModel } from "../model.ts";
import { GENERATOR_NAME, type EmitContext } from "./util.ts";

/**
 * package.json. JSON has no comments, so the `warpdrive` field is the header: it names the generator,
 * its version and the source, and it is the marker writePackage looks for before overwriting.
 */
export function packageJson(ctx: EmitContext): string {
  const m = ctx.model;
  const pkg = {
    name: `@warpdrive/${m.name}`,
    version: m.version,
    description: m.title,
    type: "module",
    exports: { ".": "./src/index.ts", "./*": "./src/*.ts" },
    types: "./src/index.ts",
    files: ["src", "README.md"],
    dependencies: { "@warpdrive/runtime": ctx.runtimeDependency },
    warpdrive: {
      generator: GENERATOR_NAME,
      generatorVersion: ctx.generatorVersion,
      runtime: ctx.runtimeRange,
      source: m.source.file,
      sourceHash: m.sourceHash,
    },
  };
  return `${JSON.stringify(pkg, null, 2)}\n`;
}

/** True when `text` (a package.json) carries the marker packageJson writes. */
export function isGeneratedPackageJson(text: string): boolean {
  try {
    const pkg = JSON.parse(text) as { warpdrive?: { generator?: unknown } };
    return typeof pkg.warpdrive === "object" && pkg.warpdrive !== null && pkg.warpdrive.generator === GENERATOR_NAME;
  } catch {
    return false;
  }
}

/**
 * src/index.ts: re-exports of every generated module (hand files are reached by subpath); the
 * runtime version check (src/version.ts) runs first.
 */
export function indexTs(header: string[]): string {
  const mods = ["version", "client", "commands", "constants", "enums", "registers", "spec", "structs"];
  return `${header.join("\n")}\n\n${mods.map((x) => `export * from "./${x}.ts";`).join("\n")}\n`;
}

/** The copy of devices/<dev>/<file> placed at src/hand/<file>: one header line, then the original. */
export function handCopy(ctx: EmitContext, file: string, original: string): string {
  const src = `${handDir(ctx.model)}/${file}`;
  return `// copied from ${src} by ${GENERATOR_NAME} ${ctx.generatorVersion}; edit the original\n${original}`;
}

/** Where the hand-written files of a model live, next to its YAML file. */
export function handDir(m: DeviceModel): string {
  const file = m.source.file;
  const slash = file.lastIndexOf("/");
  return `${slash < 0 ? "." : file.slice(0, slash)}/${m.name}`;
}
