// The implication the description fuzzer enforces, as one function over a batch of descriptions:
//   validate accepts  =>  generate succeeds  =>  no absolute machine path in any generated file
//                     =>  the package type-checks (tsc --strict, the repository's options)
//                     =>  it loads (src/index.ts imports)  =>  its spec opens on the sim backend and
//                         every queue can be requested  =>  its generated layout self-test passes.
// Type-checking is what costs: one TypeScript program holds every package of a batch, in memory
// (no files, no tsc process), and the compiler host keeps the parsed lib, @types/bun and runtime
// files across programs, so a warm check costs a few hundred milliseconds, not a tsc start.
// Loading and the layout test need files: each package is written under fuzz/.cache/describe/
// (git-ignored, inside the repository so "@warpdrive/runtime" resolves as the workspace package).
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import ts from "typescript";
import { emitDevice } from "@warpdrive/generator/emit/index";
import { loadDeviceSource, REPO_ROOT } from "@warpdrive/generator/load";
import { Device, type DeviceSpec } from "@warpdrive/runtime";
import { resetRecorded, runRecorded } from "./layout-shim.ts";
import { INERT_VIRTIO_REGIONS } from "./inert-virtio-model.ts";

export interface DescriptionCase {
  /** The name diagnostics use, e.g. devices/qemu-edu.yaml. */
  file: string;
  yaml: string;
}

export type Stage = "validate" | "generate" | "paths" | "typecheck" | "load" | "open" | "layout";

export type Outcome =
  | { kind: "rejected"; errors: number }
  | { kind: "passed"; tests: number }
  | { kind: "failed"; stage: Stage; why: string };

const CACHE = join(REPO_ROOT, "fuzz", ".cache", "describe");
const SHIM = join(import.meta.dir, "layout-shim.ts");
const INERT_MODEL = new URL("./inert-model.ts", import.meta.url).href;
const INERT_VIRTIO_MODEL = new URL("./inert-virtio-model.ts", import.meta.url).href;

/** A virtio spec for the inert virtio model: its common and notify regions under the model's journaled names. */
function inertVirtioSpec(spec: DeviceSpec): DeviceSpec {
  const v = spec.virtio!;
  const rename = (name: string) => (name === v.common ? INERT_VIRTIO_REGIONS.common : name === v.notify ? INERT_VIRTIO_REGIONS.notify : name);
  return {
    ...spec,
    regions: spec.regions.map((r) => ({ ...r, name: rename(r.name) })),
    virtio: { ...v, common: INERT_VIRTIO_REGIONS.common, notify: INERT_VIRTIO_REGIONS.notify },
    model: INERT_VIRTIO_MODEL,
  };
}
/** Where virtual packages live for the type checker (never written to disk). */
const VIRTUAL = join(REPO_ROOT, "fuzz", ".cache", "virtual");

/** Paths of this machine that must never appear in generated files. */
export function machinePaths(): string[] {
  const all = [REPO_ROOT, process.cwd(), tmpdir(), homedir(), CACHE].filter((p) => p.length > 1 && p !== "/");
  return [...new Set(all)].sort((a, b) => b.length - a.length);
}

/** The first generated file (and the path in it) that names a path of this machine. */
export function findMachinePath(files: Map<string, string>): string | null {
  const paths = machinePaths();
  for (const [name, text] of files) {
    for (const p of paths) if (text.includes(p)) return `${name} contains the machine path ${p}`;
  }
  return null;
}

class InMemoryChecker {
  readonly #options: ts.CompilerOptions;
  readonly #host: ts.CompilerHost;
  readonly #real = new Map<string, ts.SourceFile>();
  #virtual = new Map<string, string>();
  #old: ts.Program | undefined;

  constructor() {
    const cfg = ts.getParsedCommandLineOfConfigFile(join(REPO_ROOT, "tsconfig.json"), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} });
    if (!cfg) throw new Error("cannot read tsconfig.json");
    this.#options = { ...cfg.options, noEmit: true };
    const host = ts.createCompilerHost(this.#options, true);
    const getSourceFile = host.getSourceFile.bind(host);
    const fileExists = host.fileExists.bind(host);
    const readFile = host.readFile.bind(host);
    host.getSourceFile = (name, lang, onError, create) => {
      const text = this.#virtual.get(name);
      if (text !== undefined) return ts.createSourceFile(name, text, lang, true);
      let sf = this.#real.get(name);
      if (!sf) {
        sf = getSourceFile(name, lang, onError, create);
        if (sf) this.#real.set(name, sf);
      }
      return sf;
    };
    host.fileExists = (name) => this.#virtual.has(name) || fileExists(name);
    host.readFile = (name) => this.#virtual.get(name) ?? readFile(name);
    const dirExists = host.directoryExists?.bind(host);
    host.directoryExists = (d) => d.startsWith(VIRTUAL) || (dirExists ? dirExists(d) : true);
    this.#host = host;
  }

  /** Type-checks packages (relative path -> text) together; the errors of each, as text. */
  check(packages: Map<string, string>[]): string[][] {
    this.#virtual = new Map();
    const roots: string[][] = [];
    packages.forEach((files, k) => {
      const dir = join(VIRTUAL, String(k));
      const mine: string[] = [];
      for (const [rel, text] of files) {
        if (!rel.endsWith(".ts")) continue;
        const p = join(dir, rel);
        this.#virtual.set(p, text);
        mine.push(p);
      }
      roots.push(mine);
    });
    const program = ts.createProgram({ rootNames: roots.flat(), options: this.#options, host: this.#host, oldProgram: this.#old });
    this.#old = program;
    return roots.map((mine, k) => {
      const errs: string[] = [];
      for (const p of mine) {
        const sf = program.getSourceFile(p)!;
        for (const d of [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)]) {
          const at = d.start !== undefined ? sf.getLineAndCharacterOfPosition(d.start) : undefined;
          const where = `${p.slice(join(VIRTUAL, String(k)).length + 1)}${at ? `:${at.line + 1}:${at.character + 1}` : ""}`;
          errs.push(`${where} TS${d.code}: ${ts.flattenDiagnosticMessageText(d.messageText, " ")}`);
        }
      }
      return errs;
    });
  }
}

let checker: InMemoryChecker | undefined;
let written = 0;

function describeError(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message.split("\n")[0]}` : String(e);
}

/** Runs the whole chain on each description; one outcome per case, in order. */
export async function checkDescriptions(cases: DescriptionCase[]): Promise<Outcome[]> {
  const out: (Outcome | undefined)[] = cases.map(() => undefined);
  const emitted: { k: number; files: Map<string, string> }[] = [];
  cases.forEach((c, k) => {
    const r = loadDeviceSource(c.file, c.yaml);
    const internal = r.diagnostics.find((d) => d.code === "internal-error");
    if (internal) return void (out[k] = { kind: "failed", stage: "validate", why: internal.message });
    if (!r.model) return void (out[k] = { kind: "rejected", errors: r.diagnostics.filter((d) => d.severity === "error").length });
    try {
      emitted.push({ k, files: emitDevice(r.model) });
    } catch (e) {
      out[k] = { kind: "failed", stage: "generate", why: `validate accepted it, generate threw ${describeError(e)}` };
    }
  });
  const checked = await checkPackages(emitted.map((e) => e.files));
  emitted.forEach((e, i) => (out[e.k] = checked[i]));
  return out.map((o) => o!);
}

/**
 * The part after generate, on emitted packages (relative path -> text): no machine path, one
 * type-check for all of them, then each loaded and its layout self-test run.
 */
export async function checkPackages(packages: Map<string, string>[]): Promise<Outcome[]> {
  const out: (Outcome | undefined)[] = packages.map((files) => {
    const leak = findMachinePath(files);
    return leak ? { kind: "failed", stage: "paths", why: leak } : undefined;
  });
  const typed = packages.map((files, k) => ({ k, files })).filter((p) => out[p.k] === undefined);
  if (typed.length > 0) {
    checker ??= new InMemoryChecker();
    const errors = checker.check(typed.map((p) => p.files));
    typed.forEach((p, i) => {
      const errs = errors[i]!;
      if (errs.length > 0) out[p.k] = { kind: "failed", stage: "typecheck", why: `${errs.length} type error(s); first: ${errs[0]}` };
    });
  }
  for (const [k, files] of packages.entries()) if (out[k] === undefined) out[k] = await loadAndTest(files);
  return out.map((o) => o!);
}

/**
 * Opens the spec on the sim backend (with a model that does nothing) and requests, then releases,
 * every queue at its first and last id: the runtime's checks of a spec run there, and a spec the
 * validator accepted must pass them. The failure as text, or null.
 */
async function openEveryQueue(spec: DeviceSpec): Promise<string | null> {
  let dev: Device;
  try {
    dev = await Device.open(spec.virtio === undefined ? { ...spec, model: INERT_MODEL } : inertVirtioSpec(spec), { backend: "sim" });
  } catch (e) {
    return `Device.open threw ${describeError(e)}`;
  }
  try {
    // virtqueues are set up between feature negotiation and DRIVER_OK (each index once per reset)
    if (spec.virtio !== undefined) dev.virtio.negotiate();
    for (const q of spec.queues) {
      for (const id of q.kind === "sq-cq" || q.kind === "virtq-split" ? [...new Set([q.first, q.last])] : [0]) {
        try {
          dev.requestQueue(q.name, { id }).release();
        } catch (e) {
          return `requestQueue("${q.name}", { id: ${id} }) threw ${describeError(e)}`;
        }
      }
    }
    return null;
  } finally {
    dev.close();
  }
}

/** Writes the package, imports it and runs its layout self-test; the package is removed after. */
async function loadAndTest(files: Map<string, string>): Promise<Outcome> {
  const dir = join(CACHE, `${process.pid}-${written++}`);
  try {
    for (const [rel, text] of files) {
      const p = join(dir, rel);
      mkdirSync(dirname(p), { recursive: true });
      // the copy run here takes describe/test from the shim; expect stays bun's own
      writeFileSync(p, rel === "test/layout.test.ts" ? text.replace(/from "bun:test";/, `from ${JSON.stringify(SHIM)};`) : text);
    }
    let spec: DeviceSpec;
    try {
      spec = ((await import(join(dir, "src", "index.ts"))) as { spec: DeviceSpec }).spec;
    } catch (e) {
      return { kind: "failed", stage: "load", why: `importing src/index.ts threw ${describeError(e)}` };
    }
    const opened = await openEveryQueue(spec);
    if (opened !== null) return { kind: "failed", stage: "open", why: opened };
    resetRecorded();
    try {
      await import(join(dir, "test", "layout.test.ts"));
    } catch (e) {
      return { kind: "failed", stage: "layout", why: `loading the layout test threw ${describeError(e)}` };
    }
    const r = await runRecorded();
    if (r.failure !== null) return { kind: "failed", stage: "layout", why: r.failure };
    return { kind: "passed", tests: r.ran };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
