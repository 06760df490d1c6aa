// Every way a device file can be wrong ends as a diagnostic with a kind, a line:column and a path,
// never as a crash, a hang or a stack trace.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DiagnosticError, formatDiagnostic, formatPath, sortDiagnostics, type Diagnostic } from "@warpdrive/generator/diagnostics";
import { loadDevice, loadDeviceSource } from "@warpdrive/generator/load";
import { firstInvalidUtf8, MAX_FILE_BYTES } from "@warpdrive/generator/parse";
import { BAD_CASES } from "./bad-cases.ts";

const errorsOf = (yaml: string | Uint8Array): Diagnostic[] => {
  const r = loadDeviceSource("t.yaml", yaml);
  return r.diagnostics.filter((d) => d.severity === "error");
};

/** The one error a case must produce: kind, place and a piece of the message. */
function expectOnly(errors: Diagnostic[], code: string, at: string, path: string, says: string): void {
  expect(errors.map((d) => ({ code: d.code, at: `${d.line}:${d.column}`, path: d.path }))).toEqual([{ code, at, path }]);
  expect(errors[0]!.message).toContain(says);
}

describe("bad device descriptions", () => {
  test("there are at least 30 distinct kinds of mistake", () => {
    expect(BAD_CASES.length).toBeGreaterThanOrEqual(30);
    expect(new Set(BAD_CASES.map((c) => c.code)).size).toBeGreaterThanOrEqual(30);
  });

  for (const c of BAD_CASES) {
    test(`${c.name}: ${c.code} at ${c.at}`, () => {
      const r = loadDeviceSource("t.yaml", c.yaml);
      expect(r.model).toBeUndefined();
      expectOnly(
        r.diagnostics.filter((d) => d.severity === "error"),
        c.code,
        c.at,
        c.path,
        c.says,
      );
    });
  }
});

describe("YAML-level mistakes", () => {
  test("syntax error: unclosed flow sequence", () => {
    expectOnly(errorsOf("device: t\ntitle: [T\nversion: 1.0.0\n"), "yaml-syntax", "3:1", "", "Flow sequence");
  });
  test("duplicate key", () => {
    expectOnly(errorsOf("device: t\ntitle: T\nversion: 1.0.0\ntitle: U\n"), "duplicate-key", "4:1", "title", 'duplicate key "title"');
  });
  test("duplicate key in a nested map", () => {
    const y = "device: t\ntitle: T\nversion: 1.0.0\nconstants:\n  A: 1\n  B: 2\n  A: 3\n";
    expectOnly(errorsOf(y), "duplicate-key", "7:3", "constants.A", 'duplicate key "A"');
  });
  test("duplicate quoted key inside a flow map in a list", () => {
    const y = "device: t\ntitle: T\nversion: 1.0.0\nmatch:\n  pci:\n    - { vendor: 1, 'vendor': 2, device: 3 }\n";
    expectOnly(errorsOf(y), "duplicate-key", "6:20", "match.pci[0].vendor", 'duplicate key "vendor"');
  });
  test("a second document", () => {
    expectOnly(errorsOf("device: t\ntitle: T\nversion: 1.0.0\n---\ndevice: u\n"), "multiple-documents", "4:1", "", "one YAML document");
  });
  test("tab indentation", () => {
    expectOnly(errorsOf("device: t\ntitle: T\nversion: 1.0.0\nregions:\n\tbar0: {}\n"), "yaml-syntax", "5:1", "", "Tabs");
  });
  test("empty file", () => {
    expectOnly(errorsOf(""), "empty-file", "1:1", "", "empty file");
  });
  test("only comments and blank lines", () => {
    expectOnly(errorsOf("# nothing\n\n   \n# here\n"), "empty-file", "1:1", "", "empty file");
  });
  test("a terminal escape sequence in the text", () => {
    expectOnly(errorsOf("device: t\ntitle: \u001b[31mT\nversion: 1.0.0\n"), "binary-file", "2:8", "", "U+001B");
  });
  test("aliases are fine in moderation", () => {
    const r = loadDeviceSource("t.yaml", "device: t\ntitle: &t T\nversion: 1.0.0\ndoc: *t\n");
    expect(r.diagnostics).toEqual([]);
    expect(r.model?.doc).toBe("T");
  });
  test("alias bomb (billion laughs) is refused without expanding it", () => {
    const lines = ["a: &a [x, x, x, x, x, x, x, x, x]"];
    for (const [name, prev] of [["b", "a"], ["c", "b"], ["d", "c"], ["e", "d"], ["f", "e"], ["g", "f"], ["h", "g"]]) {
      lines.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(", ")}]`);
    }
    expectOnly(errorsOf(lines.join("\n") + "\n"), "alias-bomb", "2:8", "", "too many alias expansions");
  });
  test("10,000 nested flow lists", () => {
    expectOnly(errorsOf("x: " + "[".repeat(10_000) + "]".repeat(10_000) + "\n"), "too-deep", "1:131", "", "nesting is too deep");
  });
  test("2,000,000 nested compact block lists", () => {
    expectOnly(errorsOf("x:\n  " + "- ".repeat(2_000_000) + "1\n"), "too-deep", "2:257", "", "nesting is too deep");
  });
  test("10,000 nested flow maps", () => {
    expectOnly(errorsOf("x: " + "{a: ".repeat(10_000) + "1" + "}".repeat(10_000) + "\n"), "too-deep", "1:512", "", "nesting is too deep");
  });
  test("deep block maps past the limit are caught after parsing", () => {
    const y = "x:\n" + Array.from({ length: 100 }, (_, i) => " ".repeat(i + 1) + `k${i}:`).join("\n") + " 1\n";
    expectOnly(errorsOf(y), "too-deep", "65:65", "", "nesting is too deep");
  });
  test("invalid UTF-8 is located by line and column", () => {
    const bytes = new Uint8Array([...new TextEncoder().encode("device: t\ntitle: "), 0xff, 0xfe, 0x0a]);
    expectOnly(errorsOf(bytes), "not-utf8", "2:8", "", "invalid byte 0xff");
  });
  test("UTF-8 validation rejects overlong forms and surrogates, accepts real text", () => {
    expect(firstInvalidUtf8(new TextEncoder().encode("größe 日本 🚀"))).toBe(-1);
    expect(firstInvalidUtf8(new Uint8Array([0x41, 0xc0, 0x80]))).toBe(1); // overlong NUL
    expect(firstInvalidUtf8(new Uint8Array([0xed, 0xa0, 0x80]))).toBe(0); // UTF-16 surrogate
    expect(firstInvalidUtf8(new Uint8Array([0xe2, 0x82]))).toBe(0); // truncated
  });
  test("a UTF-8 byte order mark is accepted", () => {
    const r = loadDeviceSource("t.yaml", "\ufeffdevice: t\ntitle: T\nversion: 1.0.0\n");
    expect(r.diagnostics).toEqual([]);
  });
});

describe("files", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "wd-diag-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("a 50 MB file is refused from its size, without being read", () => {
    const p = join(dir, "huge.yaml");
    writeFileSync(p, "device: t\n");
    truncateSync(p, 50 * 1024 * 1024); // sparse: costs no disk and no time
    const r = loadDevice(p);
    expect(r.model).toBeUndefined();
    expect(r.diagnostics.map((d) => [d.code, d.line, d.column])).toEqual([["file-too-large", 1, 1]]);
    expect(r.diagnostics[0]!.message).toContain("file is too large (over 50.0 MiB)");
  });

  test("a file just over the limit is refused, one at the limit is read", () => {
    const over = join(dir, "over.yaml");
    writeFileSync(over, "#".repeat(MAX_FILE_BYTES + 1));
    expect(loadDevice(over).diagnostics.map((d) => d.code)).toEqual(["file-too-large"]);
    const at = join(dir, "at.yaml");
    writeFileSync(at, "#".repeat(MAX_FILE_BYTES));
    expect(loadDevice(at).diagnostics.map((d) => d.code)).toEqual(["empty-file"]);
  });

  test("binary garbage", () => {
    // Deterministic noise (a linear congruential generator), so a failure reproduces.
    const bytes = new Uint8Array(64 * 1024);
    let x = 12345;
    for (let i = 0; i < bytes.length; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      bytes[i] = x >>> 24;
    }
    const p = join(dir, "garbage.yaml");
    writeFileSync(p, bytes);
    const r = loadDevice(p);
    expect(r.diagnostics).toHaveLength(1);
    expect(["binary-file", "not-utf8"]).toContain(r.diagnostics[0]!.code);
  });

  test("an ELF header (NUL bytes) is a binary file", () => {
    const p = join(dir, "a.out.yaml");
    writeFileSync(p, new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x01, 0x00, 0x00]));
    expect(loadDevice(p).diagnostics.map((d) => [d.code, `${d.line}:${d.column}`])).toEqual([["binary-file", "1:8"]]);
  });

  test("a missing file and a directory", () => {
    expect(loadDevice(join(dir, "nope.yaml")).diagnostics.map((d) => d.message)).toEqual(["cannot read file: no such file"]);
    expect(loadDevice(dir).diagnostics.map((d) => d.code)).toEqual(["read-error"]);
  });

  test("diagnostics name the file relative to the current directory (absolute outside it)", () => {
    const p = join(dir, "dup.yaml");
    writeFileSync(p, "device: t\ndevice: u\n");
    expect(loadDevice(p).diagnostics[0]!.file).toBe(p);
    expect(loadDevice("devices/does-not-exist.yaml").diagnostics[0]!.file).toBe("devices/does-not-exist.yaml");
  });
});

describe("warnings", () => {
  test("warnings do not stop the model: an odd-sized BAR", () => {
    const r = loadDeviceSource("t.yaml", "device: t\ntitle: T\nversion: 1.0.0\nregions:\n  bar0: { kind: mmio, index: 0, size: 0x3000 }\n");
    expect(r.model).toBeDefined();
    expect(r.diagnostics.map((d) => [d.severity, d.code, `${d.line}:${d.column}`, d.path])).toEqual([["warning", "region-size", "5:39", "regions.bar0.size"]]);
  });
  test("a device file named after another device", () => {
    const r = loadDeviceSource("devices/other.yaml", "device: t\ntitle: T\nversion: 1.0.0\n");
    expect(r.model).toBeDefined();
    expect(r.diagnostics.map((d) => [d.severity, d.code, `${d.line}:${d.column}`])).toEqual([["warning", "device-name-mismatch", "1:9"]]);
    expect(r.diagnostics[0]!.message).toContain("name the file t.yaml");
  });
  test("two enum members with one value", () => {
    const r = loadDeviceSource("t.yaml", "device: t\ntitle: T\nversion: 1.0.0\nenums:\n  E: { values: { A: 1, B: 1 } }\n");
    expect(r.diagnostics.map((d) => [d.severity, d.code, `${d.line}:${d.column}`, d.path])).toEqual([["warning", "duplicate-enum-value", "5:27", "enums.E.values.B"]]);
  });
});

describe("all diagnostics at once", () => {
  test("a file with problems in every section reports each of them, in reading order", () => {
    const y = [
      "device: t",
      "title: T",
      "version: 1.0.0",
      "regions:",
      "  bar0:",
      "    kind: mmio",
      "    index: 0",
      "    size: 0x10",
      "    registers:",
      "      a: { offset: 0x10 }", // past the end
      "      b: { offset: 0, acces: rw }", // unknown key
      "structs:",
      "  S:",
      "    size: 4",
      "    fields:",
      "      x: { offset: 1, type: u16 }", // misaligned
      "interrupts:",
      "  irq: { index: 0, kind: msi }",
      "  irq2: { index: 0, kind: msi }", // same vector
    ].join("\n");
    const errs = errorsOf(y);
    expect(errs.map((d) => `${d.line}:${d.column} ${d.code}`)).toEqual([
      "10:20 register-outside-region",
      "11:23 unknown-key",
      "16:20 misaligned",
      "19:18 duplicate-index",
    ]);
    expect(errs[1]!.message).toContain('did you mean "access"?');
  });
});

describe("formatting", () => {
  const d: Diagnostic = {
    file: "devices/x.yaml",
    line: 12,
    column: 9,
    path: "regions.bar0.registers.cc.fields.en.bits",
    code: "bad-bits",
    message: 'bits "3:5": msb 3 is below lsb 5',
    severity: "error",
  };

  test("file:line:column: error: message (at path)", () => {
    expect(formatDiagnostic(d)).toBe('devices/x.yaml:12:9: error: bits "3:5": msb 3 is below lsb 5 (at regions.bar0.registers.cc.fields.en.bits)');
    expect(formatDiagnostic({ ...d, path: "", severity: "warning" })).toBe('devices/x.yaml:12:9: warning: bits "3:5": msb 3 is below lsb 5');
  });

  test("paths: keys dotted, sequence indices in brackets", () => {
    expect(formatPath(["match", "pci", 0, "vendor"])).toBe("match.pci[0].vendor");
    expect(formatPath([])).toBe("");
  });

  test("sorting keeps reading order", () => {
    const later = { ...d, line: 20 };
    const earlier = { ...d, line: 3, column: 40 };
    expect(sortDiagnostics([later, d, earlier]).map((x) => x.line)).toEqual([3, 12, 20]);
  });

  test("DiagnosticError carries every diagnostic and summarises the first", () => {
    const e = new DiagnosticError([d, { ...d, line: 13 }, { ...d, line: 14, severity: "warning" }]);
    expect(e.diagnostics).toHaveLength(3);
    expect(e.message).toBe(`${formatDiagnostic(d)} (and 1 more error)`);
    expect(e.format().split("\n")).toHaveLength(3);
    expect(e).toBeInstanceOf(Error);
  });
});
