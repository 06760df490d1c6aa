// Diagnostics: what the loader says about a device file. Every problem is a value (never a thrown
// stack trace) that names the file, the line and column in it, and the path of the offending item,
// so an editor can jump to it and a person can read it: `devices/x.yaml:12:9: error: ... (at a.b.c)`.

export type Severity = "error" | "warning";

/** One segment of a path into the YAML document: a map key or a sequence index. */
export type PathSegment = string | number;

export interface Diagnostic {
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
  /** Dotted path of the item, e.g. `regions.bar0.registers.cc.fields.en.bits`; "" for the document. */
  path: string;
  /** Stable kind of the problem (`register-overlap`, `unknown-key`...), for tests and tools. */
  code: string;
  message: string;
  severity: Severity;
}

/** `regions.bar0.registers.cc`, sequence indices as `[0]`: `match.pci[0].vendor`. */
export function formatPath(segments: readonly PathSegment[]): string {
  let out = "";
  for (const s of segments) {
    if (typeof s === "number") out += `[${s}]`;
    else out += out === "" ? s : `.${s}`;
  }
  return out;
}

/** `file:line:column: error: message (at path)`, the shape compilers use so editors link it. */
export function formatDiagnostic(d: Diagnostic): string {
  const at = d.path === "" ? "" : ` (at ${d.path})`;
  return `${d.file}:${d.line}:${d.column}: ${d.severity}: ${d.message}${at}`;
}

/** Errors first would reorder the file; keep reading order (line, column), errors before warnings at a tie. */
export function sortDiagnostics(list: readonly Diagnostic[]): Diagnostic[] {
  return [...list].sort(
    (a, b) =>
      a.line - b.line ||
      a.column - b.column ||
      (a.severity === b.severity ? 0 : a.severity === "error" ? -1 : 1) ||
      (a.message < b.message ? -1 : a.message > b.message ? 1 : 0),
  );
}

export function hasErrors(list: readonly Diagnostic[]): boolean {
  return list.some((d) => d.severity === "error");
}

/** Thrown by APIs that cannot return diagnostics as values; carries every diagnostic, not just the first. */
export class DiagnosticError extends Error {
  readonly diagnostics: readonly Diagnostic[];

  constructor(diagnostics: readonly Diagnostic[]) {
    const errors = diagnostics.filter((d) => d.severity === "error");
    const first = errors[0] ?? diagnostics[0];
    const summary = first ? formatDiagnostic(first) : "invalid device description";
    const more = errors.length > 1 ? ` (and ${errors.length - 1} more error${errors.length > 2 ? "s" : ""})` : "";
    super(summary + more);
    this.name = "DiagnosticError";
    this.diagnostics = diagnostics;
  }

  /** Every diagnostic, one per line. */
  format(): string {
    return this.diagnostics.map(formatDiagnostic).join("\n");
  }
}
