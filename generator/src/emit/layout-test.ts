// test/layout.test.ts: a generated self-test (PeakRDL's habit); the harness it calls is the runtime's
// @warpdrive/runtime/testing, so the file holds only this device's data. Expected bytes are computed here from
// the description, independently of the emitted encoders, and the test checks them byte for byte:
// each field is encoded alone at an offset inside a guard-filled buffer, so a wrong offset, size,
// byte order, bit position or a missed zero-fill all show. Registers are checked through a recording
// RegisterIo: every access must hit the described offset with the described width and bits.
import type { CommandModel, FieldModel, RegionModel, RegisterModel, StructFieldModel, StructModel } from "../model.ts";
import { commandFunctionName, paramsTypeName } from "./commands.ts";
import { listClassName } from "./lists.ts";
import { isWide } from "./fields.ts";
import { fieldValueType, isReadable, isWritable, regionClassName, registerClass } from "./registers.ts";
import { named } from "./structs.ts";
import { TsFile } from "./ts.ts";
import { hostWrites } from "../struct-use.ts";
import { camel, hex, num, str, type EmitContext } from "./util.ts";

/** Bytes 01 02 03 ... n as the field's value (big-endian reading), and its bytes as stored. */
function pattern(n: number, little: boolean): { value: string; bytes: string; wide: boolean } {
  const be = Array.from({ length: n }, (_, k) => (k + 1).toString(16).padStart(2, "0"));
  const value = `0x${be.join("")}${n === 8 ? "n" : ""}`;
  return { value, bytes: (little ? [...be].reverse() : be).join(""), wide: n === 8 };
}

/** Hex bytes of `v` stored in `n` bytes. */
function bytesOf(v: bigint, n: number, little: boolean): string {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(((v >> BigInt(8 * i)) & 0xffn).toString(16).padStart(2, "0"));
  return (little ? out : out.reverse()).join("");
}

const DMA_ADDR = 0x123456788n; // above 4 GiB: both halves of the address are checked
/** For a dma-address the device requires aligned (`align:`, up to 4 KiB): still above 4 GiB. */
const DMA_ADDR_ALIGNED = 0x123456000n;

interface Probe {
  /** Init object literal text. */
  init: string;
  /** [offset, hex bytes] expected in the entry; everything else zero. */
  expect: [number, string][];
  /** Decode check: accessor expression on the decoded data, expected literal. */
  decoded?: [string, string];
  /** Getter check: accessor expression on the struct class over the entry, expected literal. */
  getter?: [string, string];
  /** The DMA label the resolver must have seen. */
  dmaLabel?: string;
  /** The bus address the resolver hands out for this probe, when not DMA_ADDR. */
  address?: bigint;
}

/** Lines around a probe's encode that make the resolver hand out the probe's address. */
function withAddress(p: Probe, body: string[]): string[] {
  if (p.address === undefined) return body;
  return [`      dma.address = ${hex(Number(p.address))};`, ...body, `      dma.address = ${hex(Number(DMA_ADDR))};`];
}

/** The first field of a struct that a probe can set with a plain scalar (for nested structs). */
function firstScalar(s: StructModel): StructFieldModel | undefined {
  return named(s).find((f) => f.type.kind === "scalar" && f.count === 1 && f.bitfields.length === 0);
}

function probes(ctx: EmitContext, dmaLabel: string, fld: StructFieldModel, base: number): Probe[] {
  const name = camel(fld.name);
  const es = fld.size / fld.count;
  const little = fld.endian === "little";
  const lastAt = fld.offset + (fld.count - 1) * es + base;
  const out: Probe[] = [];
  if (fld.type.kind === "dma-address") {
    const label = dmaLabel;
    const aligned = (fld.dma?.align ?? 1) > 1;
    const addr = aligned ? DMA_ADDR_ALIGNED : DMA_ADDR;
    const b = bytesOf(addr, 8, little);
    const at = aligned ? { address: addr } : {};
    if (fld.count > 1) out.push({ init: `{ ${name}: { length: ${fld.count}, ${fld.count - 1}: ref } }`, expect: [[lastAt, b]], dmaLabel: label, ...at });
    else out.push({ init: `{ ${name}: ref }`, expect: [[lastAt, b]], dmaLabel: label, decoded: [`.${name}`, `${hex(Number(addr))}n`], ...at });
    return out;
  }
  if (fld.type.kind === "struct") {
    const inner = fld.type.def;
    const first = firstScalar(inner);
    if (!first) return out;
    const p = pattern(first.size, first.endian === "little");
    const v = `{ ${camel(first.name)}: ${p.value} }`;
    const at = lastAt + first.offset;
    if (fld.count > 1) out.push({ init: `{ ${name}: { length: ${fld.count}, ${fld.count - 1}: ${v} } }`, expect: [[at, p.bytes]] });
    else out.push({ init: `{ ${name}: ${v} }`, expect: [[at, p.bytes]], decoded: [`.${name}.${camel(first.name)}`, p.value] });
    return out;
  }
  if (fld.type.kind !== "scalar") return out;
  const p = pattern(es, little);
  if (fld.count > 1) {
    out.push({ init: `{ ${name}: { length: ${fld.count}, ${fld.count - 1}: ${p.value} } }`, expect: [[lastAt, p.bytes]], decoded: [`.${name}[${fld.count - 1}]`, p.value] });
    return out;
  }
  if (fld.bitfields.length === 0) {
    out.push({ init: `{ ${name}: ${p.value} }`, expect: [[lastAt, p.bytes]], decoded: [`.${name}`, p.value] });
    return out;
  }
  // Whole word, then each bit field at its maximum value: the decoded word is raw, the getter
  // reads the field.
  out.push({ init: `{ ${name}: ${p.value} }`, expect: [[lastAt, p.bytes]], decoded: [`.${name}`, p.value] });
  for (const b of fld.bitfields) {
    const max = (1n << BigInt(b.width)) - 1n;
    const lit = isWide(fld) && b.width > 32 ? `0x${max.toString(16)}n` : hex(Number(max));
    const word = max << BigInt(b.lsb);
    const signed = fld.type.type.startsWith("i");
    const bits = BigInt(es * 8);
    const raw = signed && word >= 1n << (bits - 1n) ? word - (1n << bits) : word;
    const rawLit = isWide(fld) ? `${raw < 0n ? "-" : ""}0x${(raw < 0n ? -raw : raw).toString(16)}n` : `${raw < 0n ? "-" : ""}${hex(Number(raw < 0n ? -raw : raw))}`;
    out.push({
      init: `{ ${name}: { ${camel(b.name)}: ${lit} } }`,
      expect: [[lastAt, bytesOf(word, es, little)]],
      decoded: [`.${name}`, rawLit],
      getter: [`.${camel(`${fld.name}_${b.name}`)}`, lit],
    });
  }
  return out;
}

function describeField(f: StructFieldModel): string {
  const t = f.type.kind === "scalar" ? f.type.type : f.type.kind === "struct" ? f.type.struct : f.type.kind;
  return `${f.name} at ${f.offset}, ${t}${f.count > 1 ? `[${f.count}]` : ""}${f.endian === "big" && f.size / f.count > 1 ? " big endian" : ""}`;
}

function structTests(ctx: EmitContext, f: TsFile, s: StructModel): string {
  f.use("../src/structs.ts", s.name);
  const writes = hostWrites(s.direction);
  if (writes) f.use("../src/structs.ts", `${s.name}Init`, true);
  const lines: string[] = [`describe(${str(`struct ${s.name}`)}, () => {`];
  lines.push(`  test("is ${s.size} bytes", () => {`, `    expect(${s.name}.SIZE).toBe(${s.size});`, `  });`);
  if (writes) lines.push(`  test("an empty init encodes all zeros", () => {`, `    entry(${s.size}, (view, offset) => ${s.name}.encode(view, offset, {}, dma), []);`, `  });`);
  for (const fld of named(s)) {
    const ps = probes(ctx, `${s.name}.${fld.name}`, fld, 0);
    if (ps.length === 0) continue;
    lines.push(`  test(${str(describeField(fld))}, () => {`);
    for (const p of ps) {
      // written by the device: only what reads back is checked (the bytes laid out as described)
      if (!writes && !p.decoded && !p.getter) continue;
      lines.push(`    {`);
      if (writes) {
        if (p.dmaLabel) lines.push(`      dma.fields.length = 0;`);
        lines.push(...withAddress(p, [`      ${p.decoded || p.getter ? "const view = " : ""}entry(${s.size}, (view, offset) => ${s.name}.encode(view, offset, init<${s.name}Init>(${p.init}), dma), ${JSON.stringify(p.expect)});`]));
        if (p.dmaLabel) lines.push(`      expect(dma.fields).toEqual([${str(p.dmaLabel)}]);`);
      } else {
        lines.push(`      const view = laid(${s.size}, ${JSON.stringify(p.expect)});`);
      }
      if (p.decoded) lines.push(`      expect(dec(${s.name}.decode(view, GUARD))${p.decoded[0]}).toBe(${p.decoded[1]});`);
      if (p.getter) lines.push(`      expect(dec(new ${s.name}(view, GUARD)${p.getter[0]})).toBe(${p.getter[1]});`);
      lines.push(`    }`);
    }
    lines.push(`  });`);
  }
  lines.push(`});`);
  return lines.join("\n");
}

function fieldLit(f: FieldModel, v: bigint): string {
  return fieldValueType(f) === "bigint" ? `0x${v.toString(16)}n` : hex(Number(v));
}

function regValue(reg: RegisterModel, v: bigint): string {
  return reg.width === 64 ? `0x${v.toString(16)}n` : hex(Number(v));
}

function registerTests(f: TsFile, region: RegionModel): string {
  const cls = regionClassName(region);
  f.use("../src/registers.ts", cls);
  const lines: string[] = [`describe(${str(`region ${region.name}`)}, () => {`];
  lines.push(`  const io = new RecordingIo();`, `  const regs = new ${cls}(io, dma);`);
  for (const reg of region.registers) {
    const name = camel(reg.name);
    const elems = reg.count > 1 ? [0, reg.count - 1] : [-1];
    lines.push(`  test(${str(`${reg.name} at ${hex(reg.offset)}, ${reg.width}-bit ${reg.access}${reg.count > 1 ? `, [${reg.count}] stride ${reg.stride}` : ""}`)}, () => {`);
    for (const i of elems) {
      const r = i < 0 ? `regs.${name}` : `regs.${name}.at(${i})`;
      const off = hex(reg.offset + Math.max(i, 0) * reg.stride);
      const cls = registerClass(reg);
      if (isReadable(reg)) {
        lines.push(`    io.value = 0n;`, `    ${r}.read();`, `    expect(io.log.pop()).toBe("r${cls === "DmaAddrReg32" ? 32 : reg.width} ${off}");`);
      }
      if (isWritable(reg)) {
        if (cls.startsWith("DmaAddrReg")) {
          const w = cls === "DmaAddrReg32" ? 32 : 64;
          const a = w === 32 ? DMA_ADDR & 0xffffffffn : DMA_ADDR;
          lines.push(`    dma.address = ${hex(Number(a))};`, `    ${r}.write(ref);`, `    dma.address = ${hex(Number(DMA_ADDR))};`, `    expect(io.log.pop()).toBe("w${w} ${off} 0x${a.toString(16)}");`);
        } else {
          lines.push(`    ${r}.write(${reg.width === 64 ? "0n" : "0"});`, `    expect(io.log.pop()).toBe("w${reg.width} ${off} 0x0");`);
        }
      }
      if (cls.startsWith("DmaAddrReg")) continue;
      for (const fld of reg.fields) {
        const max = (1n << BigInt(fld.width)) - 1n;
        const word = max << BigInt(fld.lsb);
        if (isReadable(reg)) {
          lines.push(`    io.value = ${`0x${word.toString(16)}n`};`, `    expect(dec(${r}.get(${str(camel(fld.name))}))).toBe(${fieldLit(fld, max)});`);
          const others = reg.fields.filter((o) => o !== fld).map((o) => `${camel(o.name)}: ${fieldLit(o, 0n)}`);
          lines.push(`    expect(dec(${r}.fields())).toEqual({ ${[`${camel(fld.name)}: ${fieldLit(fld, max)}`, ...others].join(", ")} });`);
        }
        if (isWritable(reg) && fld.access !== "ro" && fld.access !== "rc") {
          lines.push(`    ${r}.writeFields(bits({ ${camel(fld.name)}: ${fieldLit(fld, max)} }));`, `    expect(io.log.pop()).toBe("w${reg.width} ${off} ${regValue(reg, word).replace(/n$/, "")}");`);
        }
      }
    }
    lines.push(`  });`);
  }
  lines.push(`});`);
  return lines.join("\n");
}

/** Non-zero bytes of `bytes` as [offset, hex] runs, the shape `entry` expects. */
function runs(bytes: Uint8Array): [number, string][] {
  const out: [number, string][] = [];
  let i = 0;
  while (i < bytes.length) {
    if (bytes[i] === 0) {
      i++;
      continue;
    }
    const start = i;
    let hexText = "";
    while (i < bytes.length && bytes[i] !== 0) hexText += bytes[i++]!.toString(16).padStart(2, "0");
    out.push([start, hexText]);
  }
  return out;
}

function putHex(bytes: Uint8Array, at: number, hexText: string): void {
  for (let i = 0; i < hexText.length / 2; i++) bytes[at + i] = parseInt(hexText.slice(2 * i, 2 * i + 2), 16);
}

/**
 * Per command: the fixed values alone, then each param alone on top of them, at the offsets of the
 * description (overlays included). A param laid over a fixed value replaces it.
 */
function commandTests(ctx: EmitContext, f: TsFile, c: CommandModel): string {
  const s = c.structDef;
  const fn = commandFunctionName(c);
  f.use("../src/commands.ts", fn);
  const fixed = new Uint8Array(s.size);
  for (const x of c.fixed) {
    const fld = x.def;
    putHex(fixed, fld.offset, bytesOf(BigInt(x.value), fld.size / fld.count, fld.endian === "little"));
  }
  const lines: string[] = [`describe(${str(`command ${c.name}`)}, () => {`];
  lines.push(`  test("fixed fields alone", () => {`, `    entry(${s.size}, (view, offset) => ${fn}(view, offset, {}, dma), ${JSON.stringify(runs(fixed))});`, `  });`);
  for (const p of c.params) {
    const fld = { ...p.field, name: p.name };
    const label = p.fromField ? `${c.struct}.${p.fromField}` : `${c.name}.${p.name}`;
    if (p.listCount) {
      lines.push(...listParamTest(f, c, p, fixed, label, s.size));
      continue;
    }
    const ps = probes(ctx, label, fld, 0);
    if (ps.length === 0) continue;
    f.use("../src/commands.ts", paramsTypeName(c), true);
    lines.push(`  test(${str(`${describeField(fld)}${p.fromField ? ` (${c.struct}.${p.fromField})` : ""}`)}, () => {`);
    for (const pr of ps) {
      const bytes = fixed.slice();
      bytes.fill(0, fld.offset, fld.offset + fld.size);
      for (const [at, h] of pr.expect) putHex(bytes, at, h);
      lines.push(`    {`);
      if (pr.dmaLabel) lines.push(`      dma.fields.length = 0;`);
      lines.push(...withAddress(pr, [`      entry(${s.size}, (view, offset) => ${fn}(view, offset, init<${paramsTypeName(c)}>(${pr.init}), dma), ${JSON.stringify(runs(bytes))});`]));
      if (pr.dmaLabel) lines.push(`      expect(dma.fields).toEqual([${str(pr.dmaLabel)}]);`);
      lines.push(`    }`);
    }
    lines.push(`  });`);
  }
  lines.push(`});`);
  return lines.join("\n");
}

/**
 * A param taking a descriptor list (emit/lists.ts): a list of `min` entries (the generated class's
 * prototype over a stand-in for its DmaList, so no memory is needed) puts its address at the field
 * and its length into the count field.
 */
function listParamTest(f: TsFile, c: CommandModel, p: CommandModel["params"][number], fixed: Uint8Array, label: string, size: number): string[] {
  const list = p.field.dma!.list!;
  const count = p.listCount!;
  const cls = f.use("../src/structs.ts", listClassName(list.of));
  f.use("../src/commands.ts", paramsTypeName(c), true);
  const aligned = (p.field.dma?.align ?? 1) > 1;
  const addr = aligned ? DMA_ADDR_ALIGNED : DMA_ADDR;
  const bytes = fixed.slice();
  putHex(bytes, p.field.offset, bytesOf(addr, 8, p.field.endian === "little"));
  putHex(bytes, count.offset, bytesOf(BigInt(list.min), count.size, count.endian === "little"));
  const fn = commandFunctionName(c);
  return [
    `  test(${str(`${p.name} at ${p.field.offset}, a ${cls} of ${list.min} (${label}, its length in ${count.name})`)}, () => {`,
    `    dma.fields.length = 0;`,
    `    dma.address = ${hex(Number(addr))};`,
    `    const list = Object.assign(Object.create(${cls}.prototype), { entries: { length: ${list.min}, ref: () => ref, members: [] } });`,
    `    entry(${size}, (view, offset) => ${fn}(view, offset, init<${paramsTypeName(c)}>({ ${camel(p.name)}: list }), dma), ${JSON.stringify(runs(bytes))});`,
    `    dma.address = ${hex(Number(DMA_ADDR))};`,
    `    expect(dma.fields).toEqual([${str(label)}]);`,
    `  });`,
  ];
}

export function layoutTestFile(ctx: EmitContext): TsFile {
  const m = ctx.model;
  const f = new TsFile();
  f.use("bun:test", "describe");
  f.use("bun:test", "expect");
  f.use("bun:test", "test");
  const parts: string[] = [];
  if (m.constants.length > 0) {
    for (const c of m.constants) f.use("../src/constants.ts", c.name);
    parts.push([`test("constants", () => {`, ...m.constants.map((c) => `  expect(${c.name}).toBe(${num(c.value)});`), `});`].join("\n"));
  }
  if (m.enums.length > 0) {
    for (const e of m.enums) f.use("../src/enums.ts", e.name);
    parts.push([`test("enums", () => {`, ...m.enums.flatMap((e) => e.members.map((x) => `  expect(${e.name}.${x.name}).toBe(${hex(x.value)});`)), `});`].join("\n"));
  }
  for (const r of m.regions) parts.push(registerTests(f, r));
  for (const s of m.structs) parts.push(structTests(ctx, f, s));
  for (const c of m.commands) parts.push(commandTests(ctx, f, c));
  // the harness (entry checks, recording resolver and register file) lives once in the runtime:
  // imported as far as this device's tests use it
  const body = parts.join("\n");
  const T = "@warpdrive/runtime/testing";
  for (const name of ["GUARD", "bits", "dec", "entry", "init", "laid"]) if (new RegExp(`\\b${name}\\b`).test(body)) f.use(T, name);
  const shared: string[] = [];
  if (/\bdma\b/.test(body)) shared.push(`const dma = new ${f.use(T, "RecordingDma")}(${hex(Number(DMA_ADDR))});`);
  if (/\bref\b/.test(body)) shared.push(`const ref = ${f.use(T, "testRef")}();`);
  if (/\bnew RecordingIo\b/.test(body)) f.use(T, "RecordingIo");
  if (shared.length > 0) f.add(shared.join("\n"));
  f.add(...parts);
  return f;
}
