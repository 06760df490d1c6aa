// The published JSON Schema: strict-mode valid, documented on every property (editors show the
// descriptions on completion), and referenced by every device file.
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { deviceSchema } from "@warpdrive/generator/schema-errors";
import { loadDeviceSource } from "@warpdrive/generator/load";

const ROOT = join(import.meta.dir, "..", "..");
type Schema = { description?: string; $ref?: string; properties?: Record<string, Schema>; $defs?: Record<string, Schema>; [k: string]: unknown };
const schema = deviceSchema as Schema;

function resolve(s: Schema): Schema {
  if (s.$ref?.startsWith("#/$defs/")) return schema.$defs![s.$ref.slice("#/$defs/".length)]!;
  return s;
}

/** Every `properties` entry anywhere in the schema, with where it is. */
function allProperties(s: unknown, where: string, out: [string, Schema][] = []): [string, Schema][] {
  if (s === null || typeof s !== "object") return out;
  if (Array.isArray(s)) {
    s.forEach((x, i) => allProperties(x, `${where}[${i}]`, out));
    return out;
  }
  for (const [k, v] of Object.entries(s)) {
    if (k === "properties" && v && typeof v === "object") {
      for (const [name, p] of Object.entries(v as Record<string, Schema>)) out.push([`${where}.${name}`, p]);
    }
    allProperties(v, `${where}.${k}`, out);
  }
  return out;
}

describe("device.schema.json", () => {
  test("is draft 2020-12 and compiles in ajv's strict mode (the loader compiles it so)", () => {
    expect(schema.$schema).toBe("https://json-schema.org/draft/2020-12/schema");
    const r = loadDeviceSource("t.yaml", "device: t\ntitle: T\nversion: 1.0.0\n");
    expect(r.diagnostics).toEqual([]);
  });

  test("every property and every definition has a description", () => {
    const props = allProperties(schema, "#");
    expect(props.length).toBeGreaterThan(80);
    // Properties inside `if` only select a branch (kind: index-ring); the branch documents them.
    const undocumented = props.filter(([w, p]) => !w.includes(".if.") && !p.description && !resolve(p).description).map(([w]) => w);
    expect(undocumented).toEqual([]);
    const defs = Object.entries(schema.$defs!).filter(([, d]) => !d.description).map(([n]) => n);
    expect(defs).toEqual([]);
  });

  test("every device file points editors at the schema on its first line", () => {
    for (const name of readdirSync(join(ROOT, "devices")).filter((n) => n.endsWith(".yaml"))) {
      const first = readFileSync(join(ROOT, "devices", name), "utf8").split("\n")[0];
      expect({ name, first }).toEqual({ name, first: "# yaml-language-server: $schema=../generator/schema/device.schema.json" });
    }
  });
});
