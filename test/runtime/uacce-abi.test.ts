// The UACCE ABI pinned: ioctl numbers, flag and region values, the hisi_qm structs' sizes. When a C
// compiler and the uapi headers (linux-libc-dev: misc/uacce/uacce.h, hisi_qm.h) are there, the
// numbers are also checked against them.
import { expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as u from "@warpdrive/runtime/sys/uacce-abi";

test("ioctl numbers: _IO('W', 0|1) and _IOWR('H', 10|11, struct)", () => {
  expect(u.UACCE_CMD_START_Q).toBe(0x5700);
  expect(u.UACCE_CMD_PUT_Q).toBe(0x5701);
  expect(u.UACCE_CMD_QM_SET_QP_CTX).toBe(0xc004480a);
  expect(u.UACCE_CMD_QM_SET_QP_INFO).toBe(0xc010480b);
  expect(u.UACCE_IOCTL_NAMES[0x5700]).toBe("UACCE_CMD_START_Q");
});

test("flags, region types, mmap offsets, struct sizes", () => {
  expect(u.UACCE_DEV_SVA).toBe(1);
  expect([u.UACCE_QFRT_MMIO, u.UACCE_QFRT_DUS]).toEqual([0, 1]);
  expect(u.qfrOffset(u.UACCE_QFRT_DUS, 4096)).toBe(4096);
  expect(u.qfrOffset(u.UACCE_QFRT_DUS, 65536)).toBe(65536);
  expect([u.HISI_QP_CTX_SIZE, u.HISI_QP_INFO_SIZE]).toEqual([4, 16]);
});

const cc = Bun.which("cc");
const header = "/usr/include/misc/uacce/uacce.h";
test.skipIf(!cc || !existsSync(header) || !existsSync("/usr/include/misc/uacce/hisi_qm.h"))("numbers agree with misc/uacce/uacce.h and hisi_qm.h", () => {
  const dir = mkdtempSync(join(tmpdir(), "wd-uacce-abi-"));
  try {
    writeFileSync(
      join(dir, "a.c"),
      // the 6.1 uapi header uses the kernel-only BIT() for UACCE_DEV_SVA: user space brings its own
      `#include <stdio.h>
#define BIT(n) (1UL << (n))
#include <misc/uacce/uacce.h>
#include <misc/uacce/hisi_qm.h>
int main(void) {
  printf("%lu %lu %lu %lu %lu %d %d %zu %zu\\n", (unsigned long)UACCE_CMD_START_Q, (unsigned long)UACCE_CMD_PUT_Q,
    (unsigned long)UACCE_CMD_QM_SET_QP_CTX, (unsigned long)UACCE_CMD_QM_SET_QP_INFO, (unsigned long)UACCE_DEV_SVA,
    (int)UACCE_QFRT_MMIO, (int)UACCE_QFRT_DUS, sizeof(struct hisi_qp_ctx), sizeof(struct hisi_qp_info));
  return 0;
}
`,
    );
    const r = Bun.spawnSync([cc!, "-o", join(dir, "a"), join(dir, "a.c")], { stderr: "pipe" });
    expect(r.stderr.toString()).toBe("");
    const out = Bun.spawnSync([join(dir, "a")]).stdout.toString().trim().split(" ").map(Number);
    expect(out).toEqual([
      u.UACCE_CMD_START_Q,
      u.UACCE_CMD_PUT_Q,
      u.UACCE_CMD_QM_SET_QP_CTX,
      u.UACCE_CMD_QM_SET_QP_INFO,
      u.UACCE_DEV_SVA,
      u.UACCE_QFRT_MMIO,
      u.UACCE_QFRT_DUS,
      u.HISI_QP_CTX_SIZE,
      u.HISI_QP_INFO_SIZE,
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
