// package.json and src/index.ts: the generated package's frame.
import { GENERATOR_NAME, type EmitContext } from "./util.ts";

/**
 * package.json. JSON has no comments, so the `warpdrive` field is the header: it names the generator,
 * its version and the source, and it is the marker writePackage looks for before overwriting.
 */
export function packageJson(ctx: EmitContext): string {
  const m = ctx.model;
  const pkg = {
    name: generatedPackageName(m.name),
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
 * src/index.ts: re-exports of every generated module; the runtime version check (src/version.ts)
 * runs first.
 */
export function indexTs(header: string[]): string {
  const mods = ["version", "client", "commands", "constants", "enums", "registers", "spec", "structs"];
  return `${header.join("\n")}\n\n${mods.map((x) => `export * from "./${x}.ts";`).join("\n")}\n`;
}

/**
 * The generated package of a device is `@warpdrive/<device>-generated`; the name `@warpdrive/<device>`
 * belongs to its driver package (devices/<device>/), which re-exports this one and adds the
 * behaviour and sim model written by hand.
 */
export function generatedPackageName(device: string): string {
  return `@warpdrive/${device}-generated`;
}
