// Stands in for "bun:test" when a generated layout self-test runs inside a fuzz worker (outside
// `bun test`, where bun:test's `test` and `describe` refuse to run). `expect` is bun's own, so the
// assertions are exactly the ones the package's test makes; `test` only records the body, and the
// description fuzzer runs the recorded bodies one by one (runRecorded).
export { expect } from "bun:test";

type Body = () => unknown;
let recorded: { name: string; body: Body }[] = [];
let prefix: string[] = [];

export function describe(name: string, body: () => void): void {
  prefix.push(name);
  try {
    body();
  } finally {
    prefix.pop();
  }
}

export function test(name: string, body: Body): void {
  recorded.push({ name: [...prefix, name].join(" > "), body });
}

/** Forgets what a previous module recorded. */
export function resetRecorded(): void {
  recorded = [];
  prefix = [];
}

/** Runs every recorded test body; the first failure as "name: message", or null. */
export async function runRecorded(): Promise<{ ran: number; failure: string | null }> {
  const tests = recorded;
  recorded = [];
  for (const t of tests) {
    try {
      await t.body();
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      return { ran: tests.length, failure: `${t.name}: ${msg.split("\n").filter((l) => l.trim() !== "").slice(0, 3).join(" / ")}` };
    }
  }
  return { ran: tests.length, failure: null };
}
