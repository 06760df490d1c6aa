// Reading a device file safely: bounded size, text only, one YAML document, bounded nesting and
// alias expansion. Everything a hostile or broken file can do ends as a Diagnostic with a position,
// never as an exception, a hang or an out-of-memory crash.
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { Alias, isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from "yaml";
import { formatPath, type Diagnostic, type PathSegment } from "./diagnostics.ts";

/** Device files are a few hundred KiB at most (nvme is ~40 KiB); anything larger is a mistake. */
export const MAX_FILE_BYTES = 4 * 1024 * 1024;
/** The DSL nests 8 levels deep; 64 leaves room for anything legitimate and keeps recursion safe. */
export const MAX_NESTING = 64;
/** Before parsing, a cheap text scan rejects files nested far deeper than any parser should see. */
const MAX_NESTING_PRESCAN = 128;
/** An alias may be expanded this many times; alias bombs ("billion laughs") need far more. */
export const MAX_ALIAS_EXPANSIONS = 100;

export interface Position {
  line: number;
  column: number;
}

/** A parsed device file: its bytes, its YAML document (with positions) and its plain data. */
export interface ParsedFile {
  file: string;
  bytes: Uint8Array;
  text: string;
  doc: Document.Parsed;
  /** Plain JavaScript value of the document (integers past 2^53 are inexact; see `locator.integer`). */
  data: unknown;
  locator: Locator;
}

export type ParseResult = { ok: true; parsed: ParsedFile; diagnostics: Diagnostic[] } | { ok: false; diagnostics: Diagnostic[] };

function diag(file: string, pos: Position, code: string, message: string, path = "", severity: "error" | "warning" = "error"): Diagnostic {
  return { file, line: pos.line, column: pos.column, path, code, message, severity };
}

const START: Position = { line: 1, column: 1 };

/**
 * Reads at most MAX_FILE_BYTES + 1 bytes, so a huge file (or a device node that never ends) is
 * rejected without being read into memory.
 */
export function readDeviceBytes(path: string, file = path): { bytes: Uint8Array } | { diagnostics: Diagnostic[] } {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : code === "EISDIR" ? "is a directory" : String((e as Error).message);
    return { diagnostics: [diag(file, START, "read-error", `cannot read file: ${why}`)] };
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) return { diagnostics: [diag(file, START, "read-error", "cannot read file: is a directory")] };
    if (st.size > MAX_FILE_BYTES) return { diagnostics: [diag(file, START, "file-too-large", tooLarge(st.size))] };
    const buf = new Uint8Array(MAX_FILE_BYTES + 1);
    let n = 0;
    while (n < buf.length) {
      const got = readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
    }
    if (n > MAX_FILE_BYTES) return { diagnostics: [diag(file, START, "file-too-large", tooLarge(n))] };
    return { bytes: buf.slice(0, n) };
  } catch (e) {
    return { diagnostics: [diag(file, START, "read-error", `cannot read file: ${(e as Error).message}`)] };
  } finally {
    closeSync(fd);
  }
}

function tooLarge(size: number): string {
  const mib = (n: number) => `${(n / (1024 * 1024)).toFixed(1)} MiB`;
  return `file is too large (${size > MAX_FILE_BYTES ? "over " : ""}${mib(size)}); a device description is at most ${mib(MAX_FILE_BYTES)}`;
}

/** Line and column (1-based, columns in characters) of a byte offset, for errors found before decoding. */
function bytePosition(bytes: Uint8Array, offset: number): Position {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset; i++) {
    if (bytes[i] === 0x0a) {
      line++;
      lineStart = i + 1;
    }
  }
  // Count characters, not bytes: continuation bytes (10xxxxxx) do not start a character.
  let column = 1;
  for (let i = lineStart; i < offset; i++) if ((bytes[i]! & 0xc0) !== 0x80) column++;
  return { line, column };
}

/** Offset of the first byte that is not part of well-formed UTF-8, or -1. */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let min: number;
    if (b >= 0xc2 && b <= 0xdf) [need, min] = [1, 0x80];
    else if (b >= 0xe0 && b <= 0xef) [need, min] = [2, 0x800];
    else if (b >= 0xf0 && b <= 0xf4) [need, min] = [3, 0x10000];
    else return i;
    let cp = b & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    // Overlong encodings, UTF-16 surrogates and code points past U+10FFFF are not UTF-8.
    if (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) return i;
    i += need + 1;
  }
  return -1;
}

/** Bytes -> text, or the reason these bytes are not a text file. */
export function decodeText(file: string, bytes: Uint8Array): { text: string } | { diagnostics: Diagnostic[] } {
  const nul = bytes.indexOf(0);
  if (nul >= 0) {
    return { diagnostics: [diag(file, bytePosition(bytes, nul), "binary-file", "binary file: contains a NUL byte; a device description is UTF-8 text")] };
  }
  const bad = firstInvalidUtf8(bytes);
  if (bad >= 0) {
    const hex = bytes[bad]!.toString(16).padStart(2, "0");
    return { diagnostics: [diag(file, bytePosition(bytes, bad), "not-utf8", `not UTF-8 text: invalid byte 0x${hex}; a device description is UTF-8 text`)] };
  }
  let text = new TextDecoder("utf-8").decode(bytes);
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  // Other control characters (escape sequences, form feeds...) mean the file is not what it claims.
  const ctrl = /[\u0001-\u0008\u000b\u000c\u000e-\u001f\u007f]/.exec(text);
  if (ctrl) {
    const pos = textPosition(text, ctrl.index);
    return { diagnostics: [diag(file, pos, "binary-file", `binary file: contains control character U+${ctrl[0].charCodeAt(0).toString(16).padStart(4, "0").toUpperCase()}`)] };
  }
  return { text };
}

function textPosition(text: string, index: number): Position {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < index; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: index - lineStart + 1 };
}

/**
 * A conservative estimate of how deeply a YAML text nests, without parsing it: block levels from
 * indentation and compact `- - -` indicators, flow levels from brackets outside quotes and comments.
 * It exists so that a pathological file never reaches the parser's recursion; it may overestimate a
 * little (stray brackets in prose), which is why its limit is twice MAX_NESTING.
 */
export function prescanNesting(text: string, limit = MAX_NESTING_PRESCAN): Position | undefined {
  const lines = text.split("\n");
  const blocks: number[] = [];
  let flow = 0;
  let flowIndent = -1;
  let blockScalarIndent = -1;
  for (let ln = 0; ln < lines.length; ln++) {
    const line = lines[ln]!;
    let indent = 0;
    while (indent < line.length && line[indent] === " ") indent++;
    const rest = line.slice(indent).replace(/\r$/, "");
    if (rest === "" || rest.startsWith("#")) continue;
    if (blockScalarIndent >= 0) {
      if (indent > blockScalarIndent) continue; // literal text of a `|` or `>` scalar
      blockScalarIndent = -1;
    }
    // A flow collection cannot continue on a line indented no deeper than where it started.
    if (flow > 0 && indent <= flowIndent) flow = 0;
    let pos = indent;
    if (flow === 0) {
      while (blocks.length > 0 && blocks[blocks.length - 1]! >= indent) blocks.pop();
      blocks.push(indent);
      while ((line[pos] === "-" || line[pos] === "?") && (line[pos + 1] === " " || line[pos + 1] === "\t")) {
        pos += 2;
        while (line[pos] === " ") pos++;
        blocks.push(pos);
        if (blocks.length > limit) return { line: ln + 1, column: pos + 1 };
      }
      flowIndent = indent;
    }
    let prev = " ";
    for (let i = pos; i < line.length; i++) {
      const c = line[i]!;
      if (c === "#" && (prev === " " || prev === "\t")) break;
      if ((c === "'" || c === '"') && /[\s\[\{,:\-?]/.test(prev)) {
        // A quote opens a quoted scalar only where a scalar may start; skip to its end on this line.
        let j = i + 1;
        while (j < line.length && !(line[j] === c && line[j - 1] !== "\\")) j++;
        i = j;
        prev = c;
        continue;
      }
      if (c === "[" || c === "{") {
        flow++;
        if (blocks.length + flow > limit) return { line: ln + 1, column: i + 1 };
      } else if ((c === "]" || c === "}") && flow > 0) flow--;
      prev = c;
    }
    if (flow === 0 && /(?:^|[\s:-])[|>][-+0-9]*\s*(?:#.*)?$/.test(rest)) blockScalarIndent = indent;
  }
  return undefined;
}

/** Maps paths in the document to positions, and reads integers exactly. */
export class Locator {
  constructor(
    private readonly doc: Document.Parsed,
    private readonly lineCounter: LineCounter,
  ) {}

  positionOfOffset(offset: number): Position {
    const p = this.lineCounter.linePos(offset);
    return { line: p.line, column: p.col };
  }

  /**
   * The node at `path` (aliases followed) and, when `key` is set and the last step is a map entry,
   * that entry's key. Missing steps stop at the deepest node that exists.
   */
  find(path: readonly PathSegment[], key = false): { node: Node | null; keyNode?: Node; found: boolean } {
    let node: unknown = this.doc.contents;
    let keyNode: Node | undefined;
    for (let i = 0; i < path.length; i++) {
      const seg = path[i]!;
      node = this.deref(node);
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
        if (!pair) return { node: node as Node, found: false };
        if (i === path.length - 1 && key) return { node: pair.value as Node | null, keyNode: pair.key as Node, found: true };
        // `name:` with no value: the key is the best place to point at.
        if (pair.value === null || (isScalar(pair.value) && pair.value.range === undefined)) {
          if (i === path.length - 1) return { node: pair.key as Node, keyNode: pair.key as Node, found: true };
          return { node: pair.key as Node, found: false };
        }
        keyNode = pair.key as Node;
        node = pair.value;
      } else if (isSeq(node)) {
        const item = node.items[typeof seg === "number" ? seg : Number(seg)];
        if (item === undefined) return { node: node as Node, found: false };
        keyNode = undefined;
        node = item;
      } else {
        return { node: (node as Node) ?? null, found: false };
      }
    }
    return { node: (node as Node) ?? null, keyNode, found: true };
  }

  /** Position of the value at `path` (or of its key, with `key`); the document start when nothing is there. */
  position(path: readonly PathSegment[], key = false): Position {
    const { node, keyNode } = this.find(path, key);
    const target = key && keyNode ? keyNode : node;
    const range = target?.range;
    return range ? this.positionOfOffset(range[0]) : START;
  }

  /**
   * The integer at `path`, exactly: YAML numbers past 2^53 lose precision as JavaScript numbers, so
   * they are re-read from the source text (`0xffffffffffffffff` stays exact).
   */
  integer(path: readonly PathSegment[]): bigint | undefined {
    const { node, found } = this.find(path);
    const n = this.deref(node);
    if (!found || !isScalar(n)) return undefined;
    if (typeof n.value === "number") {
      if (Number.isSafeInteger(n.value)) return BigInt(n.value);
      const src = (n.source ?? "").trim();
      if (/^[-+]?(0x[0-9a-f]+|0o[0-7]+|[0-9]+)$/i.test(src)) {
        const neg = src.startsWith("-");
        const digits = src.replace(/^[-+]/, "");
        const v = BigInt(digits);
        return neg ? -v : v;
      }
      return undefined;
    }
    if (typeof n.value === "bigint") return n.value;
    return undefined;
  }

  private deref(node: unknown): unknown {
    let n = node;
    for (let hops = 0; isAlias(n) && hops < 100; hops++) n = (n as Alias).resolve(this.doc);
    return n;
  }
}

/** Depth of the node tree, walked iteratively (the point is not to trust recursion on hostile input). */
function nestingDepth(doc: Document.Parsed): { depth: number; node?: Node } {
  let max = 0;
  let deepest: Node | undefined;
  const stack: [unknown, number][] = [[doc.contents, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (depth > max) {
      max = depth;
      deepest = node as Node;
      if (max > MAX_NESTING) break;
    }
    if (isMap(node)) for (const p of node.items) stack.push([p.value, depth + 1]);
    else if (isSeq(node)) for (const item of node.items) stack.push([item, depth + 1]);
  }
  return { depth: max, node: deepest };
}

/** Path of the map key that starts at `offset` (where yaml reports a duplicate key), walked iteratively. */
function pathOfKeyAt(doc: Document.Parsed, offset: number): PathSegment[] | undefined {
  const stack: [unknown, PathSegment[]][] = [[doc.contents, []]];
  while (stack.length > 0) {
    const [node, path] = stack.pop()!;
    if (isMap(node)) {
      for (const p of node.items) {
        const key = isScalar(p.key) ? String(p.key.value) : "?";
        if (isScalar(p.key) && p.key.range?.[0] === offset) return [...path, key];
        stack.push([p.value, [...path, key]]);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => stack.push([item, [...path, i]]));
    }
  }
  return undefined;
}

/** yaml's messages end in "at line X, column Y:" plus a source excerpt; we print positions ourselves. */
function yamlMessage(message: string): string {
  return message.split("\n")[0]!.replace(/ at line \d+, column \d+:?\s*$/, "");
}

/** Parses the bytes of a device file into a document with positions and plain data. */
export function parseDeviceSource(file: string, bytes: Uint8Array): ParseResult {
  if (bytes.length > MAX_FILE_BYTES) return { ok: false, diagnostics: [diag(file, START, "file-too-large", tooLarge(bytes.length))] };
  const decoded = decodeText(file, bytes);
  if ("diagnostics" in decoded) return { ok: false, diagnostics: decoded.diagnostics };
  const text = decoded.text;
  if (text.trim() === "") return { ok: false, diagnostics: [diag(file, START, "empty-file", "empty file: expected a device description (device, title, version, ...)")] };

  const deep = prescanNesting(text);
  if (deep) return { ok: false, diagnostics: [diag(file, deep, "too-deep", `nesting is too deep (more than ${MAX_NESTING} levels)`)] };

  const lineCounter = new LineCounter();
  let doc: Document.Parsed;
  try {
    doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  } catch (e) {
    return { ok: false, diagnostics: [diag(file, START, "yaml-syntax", `cannot parse YAML: ${(e as Error).message}`)] };
  }
  const locator = new Locator(doc, lineCounter);
  const at = (offset: number | undefined) => (offset === undefined ? START : locator.positionOfOffset(offset));

  const diagnostics: Diagnostic[] = [];
  for (const e of doc.errors) {
    const offset = e.pos[0];
    if (e.code === "DUPLICATE_KEY") {
      const path = pathOfKeyAt(doc, offset);
      const key = path ? String(path[path.length - 1]) : "?";
      diagnostics.push(diag(file, at(offset), "duplicate-key", `duplicate key "${key}": each key may appear once in a map`, path ? formatPath(path) : ""));
    } else if (e.code === "MULTIPLE_DOCS") {
      diagnostics.push(diag(file, at(offset), "multiple-documents", "a device file holds one YAML document, but a second one starts here"));
    } else {
      diagnostics.push(diag(file, at(offset), "yaml-syntax", `YAML syntax error: ${yamlMessage(e.message)}`));
    }
  }
  for (const w of doc.warnings) diagnostics.push(diag(file, at(w.pos[0]), "yaml-warning", `YAML: ${yamlMessage(w.message)}`, "", "warning"));
  if (diagnostics.some((d) => d.severity === "error")) return { ok: false, diagnostics };

  if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) {
    return { ok: false, diagnostics: [...diagnostics, diag(file, START, "empty-file", "empty file: expected a device description (device, title, version, ...)")] };
  }
  const { depth, node } = nestingDepth(doc);
  if (depth > MAX_NESTING) {
    return { ok: false, diagnostics: [...diagnostics, diag(file, at(node?.range?.[0]), "too-deep", `nesting is too deep (more than ${MAX_NESTING} levels)`)] };
  }

  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_EXPANSIONS });
  } catch (e) {
    const msg = (e as Error).message;
    const firstAlias = /(^|[\s\[{,:-])\*[^\s,\]}]+/.exec(text);
    const pos = firstAlias ? textPosition(text, firstAlias.index + firstAlias[1]!.length) : START;
    if (/alias/i.test(msg)) {
      return { ok: false, diagnostics: [...diagnostics, diag(file, pos, "alias-bomb", `too many alias expansions (more than ${MAX_ALIAS_EXPANSIONS}): anchors and aliases may not multiply the document`)] };
    }
    return { ok: false, diagnostics: [...diagnostics, diag(file, pos, "yaml-syntax", `cannot read YAML value: ${msg}`)] };
  }
  return { ok: true, parsed: { file, bytes, text, doc, data, locator }, diagnostics };
}

