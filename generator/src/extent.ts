// DMA extents: how many bytes the device moves at a dma-address field's address, as the description
// says it (`extent: size`, `extent: 4096`, `extent: (qsize + 1) * 64`). The grammar is deliberately
// small — integers, names, + - * and parentheses — so every extent is a plain integer expression
// that the validator can check name by name and the emitter can write as JavaScript over the
// encoder's already-checked locals.
//
//   expr   := term (("+" | "-") term)*
//   term   := factor ("*" factor)*
//   factor := integer | name | "(" expr ")"
//   name   := a field or param (snake_case) or a constant (UPPER_CASE)

export type ExtentExpr =
  | { kind: "num"; value: number }
  | { kind: "name"; name: string; column: number }
  | { kind: "bin"; op: "+" | "-" | "*"; left: ExtentExpr; right: ExtentExpr };

export interface ExtentParseError {
  error: string;
  /** 0-based column in the expression text. */
  column: number;
}

/** Parses an extent given as an integer or an expression string. */
export function parseExtent(raw: number | string): ExtentExpr | ExtentParseError {
  if (typeof raw === "number") {
    return Number.isSafeInteger(raw) && raw >= 0 ? { kind: "num", value: raw } : { error: `extent ${raw} is not a byte count`, column: 0 };
  }
  const tokens: { t: string; col: number }[] = [];
  const re = /\s*(0x[0-9a-fA-F]+|[0-9]+|[A-Za-z_][A-Za-z0-9_]*|[-+*()]|\S)/y;
  let m: RegExpExecArray | null;
  while (re.lastIndex < raw.length && (m = re.exec(raw)) !== null) {
    if (m[1] === undefined) break;
    tokens.push({ t: m[1], col: m.index + m[0].length - m[1].length });
  }
  let i = 0;
  const fail = (error: string, col = tokens[i]?.col ?? raw.length): ExtentParseError => ({ error, column: col });
  const factor = (): ExtentExpr | ExtentParseError => {
    const tok = tokens[i];
    if (tok === undefined) return fail("the expression ends where a number, a name or ( was expected");
    i++;
    if (/^(0x[0-9a-fA-F]+|[0-9]+)$/.test(tok.t)) {
      const value = Number(tok.t);
      if (!Number.isSafeInteger(value)) return fail(`${tok.t} is too large`, tok.col);
      return { kind: "num", value };
    }
    if (/^[A-Za-z_]/.test(tok.t)) return { kind: "name", name: tok.t, column: tok.col };
    if (tok.t === "(") {
      const e = expr();
      if ("error" in e) return e;
      if (tokens[i]?.t !== ")") return fail("missing )");
      i++;
      return e;
    }
    return fail(`unexpected "${tok.t}"`, tok.col);
  };
  const term = (): ExtentExpr | ExtentParseError => {
    let left = factor();
    while (!("error" in left) && tokens[i]?.t === "*") {
      i++;
      const right = factor();
      if ("error" in right) return right;
      left = { kind: "bin", op: "*", left, right };
    }
    return left;
  };
  const expr = (): ExtentExpr | ExtentParseError => {
    let left = term();
    while (!("error" in left) && (tokens[i]?.t === "+" || tokens[i]?.t === "-")) {
      const op = tokens[i]!.t as "+" | "-";
      i++;
      const right = term();
      if ("error" in right) return right;
      left = { kind: "bin", op, left, right };
    }
    return left;
  };
  if (tokens.length === 0) return fail("the extent is empty", 0);
  const e = expr();
  if ("error" in e) return e;
  if (i < tokens.length) return fail(`unexpected "${tokens[i]!.t}" after the expression`);
  return e;
}

/** Every name an expression uses, in order. */
export function extentNames(e: ExtentExpr): { name: string; column: number }[] {
  if (e.kind === "name") return [{ name: e.name, column: e.column }];
  if (e.kind === "bin") return [...extentNames(e.left), ...extentNames(e.right)];
  return [];
}

/** Whether the expression can come out negative (it subtracts). */
export function extentSubtracts(e: ExtentExpr): boolean {
  return e.kind === "bin" && (e.op === "-" || extentSubtracts(e.left) || extentSubtracts(e.right));
}

/** The expression as text, fully parenthesised where precedence needs it (docs, error messages). */
export function extentText(e: ExtentExpr): string {
  return emitExtent(e, (n) => n);
}

/** JavaScript for the expression; `name(n)` gives the code for a name (a local or a constant). */
export function emitExtent(e: ExtentExpr, name: (n: string) => string): string {
  if (e.kind === "num") return String(e.value);
  if (e.kind === "name") return name(e.name);
  const wrap = (x: ExtentExpr) => (x.kind === "bin" && (x.op === "+" || x.op === "-") && e.op === "*" ? `(${emitExtent(x, name)})` : emitExtent(x, name));
  const right = e.right.kind === "bin" && (e.op === "-" || (e.op === "*" && e.right.op !== "*")) ? `(${emitExtent(e.right, name)})` : wrap(e.right);
  return `${wrap(e.left)} ${e.op} ${right}`;
}
