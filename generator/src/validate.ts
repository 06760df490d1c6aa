// Validation of a parsed device file: the JSON Schema first (shapes, names, types), then the
// semantic rules (layout, references, widths, names after conversion). Both always run, so a file
// gets every diagnostic at once rather than one per run.
import { sortDiagnostics, type Diagnostic } from "./diagnostics.ts";
import type { ParsedFile } from "./parse.ts";
import { schemaDiagnostics } from "./schema-errors.ts";
import { semanticDiagnostics } from "./semantic.ts";

/** Every diagnostic for the file, in reading order. An empty list (or warnings only) means valid. */
export function validateParsed(parsed: ParsedFile): Diagnostic[] {
  const schema = schemaDiagnostics(parsed.file, parsed.data, parsed.locator);
  const semantic = semanticDiagnostics(parsed.file, parsed.data, parsed.locator);
  // A value the schema rejected is often also caught by a rule; say it once, the schema's way.
  const taken = new Set(schema.map((d) => `${d.line}:${d.column}`));
  return sortDiagnostics([...schema, ...semantic.filter((d) => !taken.has(`${d.line}:${d.column}`))]);
}
