#!/usr/bin/env bun
// `wd`: the generator's command line.
//   wd validate [files...] [--json]           every diagnostic of every file; exit 1 on any error
//   wd generate [files...] [--out DIR] [--check] [--watch]
// With no files, both take the project's devices/*.yaml (and generate writes its generated/); the
// project is found from the current directory (project.ts). Output never includes a stack trace:
// problems in the input are diagnostics, anything else is one line saying "internal error".
// The host commands (devices, bind, unbind, queues) are the runtime's (@warpdrive/runtime/admin);
// this file only dispatches to them.
import { existsSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { bindCommand, devicesCommand, queuesCommand, takeOption, type Client } from "@warpdrive/runtime/admin";
import { formatDiagnostic, type Diagnostic } from "./diagnostics.ts";
import { displayPath, loadDevice } from "./load.ts";
import type { DeviceModel } from "./model.ts";
import { projectRoot, RUNTIME_RANGE, runtimeIsWorkspaceMember } from "./project.ts";
import { scaffoldDevice, ScaffoldError, schemaReference } from "./scaffold.ts";
import { watchDescriptions } from "./watch.ts";

const USAGE = `usage:
  wd validate [files...] [--json]             check device descriptions (default: devices/*.yaml);
                                              --json prints the diagnostics as a JSON array on stdout
  wd generate [files...] [--out DIR] [--check] [--watch]
                                              write generated/<device>/ for each description;
                                              --out DIR puts packages in DIR/<device> (default: the
                                              project's generated/)
                                              --check writes nothing and fails if any package is stale
                                              --watch generates again whenever a description or its
                                              hand-written files change (Ctrl-C stops)
  wd new <name> [--dir DIR]                   scaffold a commented description and its hand-written
                                              behaviour and sim model (default DIR: devices/)
  wd devices [--json] [--sysfs DIR] [--devices DIR]
                                              PCI devices: IOMMU group, driver, matching client;
                                              then UACCE devices: api, free queues, matching client
  wd bind <BDF>                               hand a PCI device to vfio-pci (root)
  wd unbind <BDF>                             give it back to its kernel driver (root)
  wd queues [--json] | create <type> | remove <uuid>
                                              mediated-device queues (mdev): types, instances, holders
  wd help`;

/** What the emitters (generator/src/emit/index.ts, generator/src/write.ts) export; loaded lazily. */
interface Emitters {
  emitDevice(model: DeviceModel, opts?: { runtimeDependency?: string }): Map<string, string>;
  writePackage(outDir: string, files: Map<string, string>, opts: { check: boolean }): { changed: string[]; missing?: string[]; extra?: string[] };
}

class UsageError extends Error {}

interface Io {
  out(line: string): void;
  err(line: string): void;
}

const consoleIo: Io = {
  out: (line) => process.stdout.write(line + "\n"),
  err: (line) => process.stderr.write(line + "\n"),
};

interface Args {
  files: string[];
  out: string;
  check: boolean;
  json: boolean;
  watch: boolean;
}

function parseArgs(args: string[]): Args {
  const files: string[] = [];
  let out = join(projectRoot(), "generated");
  let check = false;
  let json = false;
  let watch = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--check") check = true;
    else if (a === "--json") json = true;
    else if (a === "--watch") watch = true;
    else if (a === "--out") {
      const dir = args[++i];
      if (dir === undefined || dir.startsWith("--")) throw new UsageError("--out needs a folder");
      out = dir;
    } else if (a.startsWith("--out=")) out = a.slice("--out=".length);
    else if (a.startsWith("-")) throw new UsageError(`unknown option ${a}`);
    else files.push(a);
  }
  return { files, out, check, json, watch };
}

/** The project's devices/*.yaml, sorted, shown relative to the current directory. */
function defaultFiles(): string[] {
  const dir = join(projectRoot(), "devices");
  if (!existsSync(dir)) throw new UsageError(`no files named and no ${dir} folder; name the files`);
  return readdirSync(dir)
    .filter((n) => n.endsWith(".yaml") || n.endsWith(".yml"))
    .sort()
    .map((n) => displayPath(join(dir, n)));
}

function printDiagnostics(io: Io, list: readonly Diagnostic[]): { errors: number; warnings: number } {
  let errors = 0;
  let warnings = 0;
  for (const d of list) {
    io.err(formatDiagnostic(d));
    if (d.severity === "error") errors++;
    else warnings++;
  }
  return { errors, warnings };
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** Loads every file, printing diagnostics; returns the models of the valid ones and the error count. */
function loadAll(io: Io, files: string[]): { models: { file: string; model: DeviceModel }[]; errors: number } {
  const models: { file: string; model: DeviceModel }[] = [];
  let errors = 0;
  for (const file of files) {
    const r = loadDevice(file);
    errors += printDiagnostics(io, r.diagnostics).errors;
    if (r.model) models.push({ file, model: r.model });
  }
  return { models, errors };
}

function validateCommand(io: Io, args: string[]): number {
  const { files: named, json, watch } = parseArgs(args);
  if (watch) throw new UsageError("--watch is an option of wd generate");
  const files = named.length > 0 ? named : defaultFiles();
  if (json) {
    // For editors and CI annotations: every diagnostic of every file, nothing else on stdout.
    const all = files.flatMap((f) => loadDevice(f).diagnostics);
    io.out(JSON.stringify(all, null, 2));
    return all.some((d) => d.severity === "error") ? 1 : 0;
  }
  const { models, errors } = loadAll(io, files);
  if (errors > 0) {
    io.err(`${plural(errors, "error")} in ${plural(files.length - models.length, "file")}`);
    return 1;
  }
  io.out(`${plural(files.length, "device description")} valid: ${models.map((m) => m.file).join(", ")}`);
  return 0;
}

/** The emitters and the writer, loaded only by the commands that generate (validate stays light). */
async function loadEmitters(): Promise<Emitters> {
  const [{ emitDevice }, { writePackage }] = await Promise.all([import("./emit/index.ts"), import("./write.ts")]);
  return { emitDevice, writePackage };
}

async function generateCommand(io: Io, args: string[]): Promise<number> {
  const opts = parseArgs(args);
  const files = opts.files.length > 0 ? opts.files : defaultFiles();
  if (!opts.watch) return generateOnce(io, files, opts);
  if (opts.check) throw new UsageError("--watch and --check do not go together");
  // Loaded before the first run, so that a missing emitter is reported once and not on every change.
  await loadEmitters();
  return watchDescriptions({ files, out: opts.out, generate: (runIo) => generateOnce(runIo, files, opts), io });
}

async function generateOnce(io: Io, files: string[], { out, check }: Args): Promise<number> {
  // Inside the SDK's own workspace the runtime is a sibling package; elsewhere it comes from a registry.
  const runtimeDependency = runtimeIsWorkspaceMember(resolve(out)) ? "workspace:*" : RUNTIME_RANGE;
  const { models, errors } = loadAll(io, files);
  if (errors > 0) {
    io.err(`${plural(errors, "error")}: nothing generated`);
    return 1;
  }
  const { emitDevice, writePackage } = await loadEmitters();
  let stale = 0;
  let failed = 0;
  for (const { file, model } of models) {
    const dir = displayPath(join(out, model.name));
    let files: Map<string, string>;
    try {
      files = emitDevice(model, { runtimeDependency });
    } catch (e) {
      // The emitters' own checks (e.g. exported names that clash) are about the description.
      io.err(`wd: cannot generate ${dir} from ${file}: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`);
      failed++;
      continue;
    }
    const r = writePackage(dir, files, { check });
    const changed = r.changed;
    const missing = r.missing ?? [];
    const extra = r.extra ?? [];
    const touched = changed.length + missing.length + extra.length;
    if (check) {
      if (touched === 0) {
        io.out(`${dir}: up to date`);
        continue;
      }
      stale++;
      io.err(`${dir}: not up to date with ${model.source.file}`);
      for (const f of changed) io.err(`  stale    ${f}`);
      for (const f of missing) io.err(`  missing  ${f}`);
      for (const f of extra) io.err(`  extra    ${f}`);
    } else {
      const parts = [
        changed.length > 0 ? `${changed.length} updated` : "",
        missing.length > 0 ? `${missing.length} created` : "",
        extra.length > 0 ? `${extra.length} removed` : "",
      ].filter((p) => p !== "");
      io.out(`${dir}: ${touched === 0 ? "up to date" : parts.join(", ")} (${plural(files.size, "file")})`);
    }
  }
  if (failed > 0) return 1;
  if (stale > 0) {
    io.err(`${plural(stale, "package")} not up to date; run \`bun run generate\` and commit the result`);
    return 1;
  }
  return 0;
}

function newCommand(io: Io, argv: string[]): number {
  const args = [...argv];
  const dir = takeOption(args, "--dir") ?? join(projectRoot(), "devices");
  if (args.length !== 1 || args[0]!.startsWith("-")) throw new UsageError("usage: wd new <name> [--dir DIR]");
  try {
    for (const file of scaffoldDevice(args[0]!, dir)) io.out(`created ${displayPath(file)}`);
  } catch (e) {
    if (e instanceof ScaffoldError) {
      io.err(`wd: ${e.message}`);
      return 1;
    }
    throw e;
  }
  const schema = schemaReference(dir);
  if (!schema.found) {
    io.out(`note: its $schema line points at ${schema.reference}, which appears once @warpdrive/generator is installed in ${displayPath(projectRoot(resolve(dir)))} (bun add -d @warpdrive/generator)`);
  }
  const yaml = displayPath(join(dir, `${args[0]}.yaml`));
  io.out(`next: wd validate ${yaml}, then wd generate ${yaml} [--out DIR]`);
  return 0;
}

/** The clients the project's descriptions define (each becomes @warpdrive/<device>), for `wd devices`. */
function describedClients(devicesDir: string): Client[] {
  if (!existsSync(devicesDir)) return [];
  const clients: Client[] = [];
  for (const f of readdirSync(devicesDir).filter((n) => n.endsWith(".yaml")).sort()) {
    const loaded = loadDevice(join(devicesDir, f));
    if (loaded.model) clients.push({ pkg: `@warpdrive/${loaded.model.name}`, match: loaded.model.match.pci, uacceApi: loaded.model.match.uacce?.api ?? [] });
  }
  return clients;
}

function devicesWithClients(io: Io, argv: string[]): number {
  const args = [...argv];
  const devicesDir = takeOption(args, "--devices") ?? join(projectRoot(), "devices");
  return devicesCommand(io, args, describedClients(devicesDir));
}

export async function main(argv: string[], io: Io = consoleIo): Promise<number> {
  try {
    const [command, ...args] = argv;
    switch (command) {
      case "validate":
        return validateCommand(io, args);
      case "generate":
        return await generateCommand(io, args);
      case "new":
        return newCommand(io, args);
      case "devices":
        return devicesWithClients(io, args);
      case "bind":
        return bindCommand(io, args, true);
      case "unbind":
        return bindCommand(io, args, false);
      case "queues":
        return queuesCommand(io, args);
      case "help":
      case "--help":
      case "-h":
        io.out(USAGE);
        return 0;
      case undefined:
        io.err(USAGE);
        return 2;
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`wd: ${e.message}`);
      return 2;
    }
    // RefusedError from writePackage and friends carry a message meant for people.
    if (e instanceof Error && e.name === "RefusedError") {
      io.err(`wd: ${e.message}`);
      return 1;
    }
    const why = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    io.err(`wd: internal error: ${why.split("\n")[0]}`);
    return 70;
  }
}

if (import.meta.main) {
  const code = await main(process.argv.slice(2));
  process.exit(code);
}
