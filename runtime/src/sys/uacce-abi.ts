// The UACCE kernel ABI (uapi misc/uacce/uacce.h and misc/uacce/hisi_qm.h, Linux 5.7+) in one place:
// ioctl numbers, flags, queue file region types and mmap offsets. Every number is pinned by
// test/runtime/uacce-abi.test.ts, which also cross-checks the C headers when a compiler has them.

// ioctl encoding (asm-generic/ioctl.h): dir << 30 | size << 16 | type << 8 | nr.
const IOC_NONE = 0;
const IOC_WRITE = 1;
const IOC_READ = 2;
const ioc = (dir: number, type: number, nr: number, size: number) => ((dir << 30) | (size << 16) | (type << 8) | nr) >>> 0;

/** _IO('W', 0): start the queue after open (and mmap); a second START_Q is EINVAL. */
export const UACCE_CMD_START_Q = ioc(IOC_NONE, 0x57, 0, 0);
/** _IO('W', 1): stop the queue; START_Q works again afterwards. close() stops and releases it too. */
export const UACCE_CMD_PUT_Q = ioc(IOC_NONE, 0x57, 1, 0);

/** /sys/class/uacce/<dev>/flags bit: the device shares the process's address space (PASID). */
export const UACCE_DEV_SVA = 1 << 0;

/** Queue file region types; a region is mapped at mmap offset `type * page size`. */
export const UACCE_QFRT_MMIO = 0;
export const UACCE_QFRT_DUS = 1;

/** struct hisi_qp_ctx { __u16 id; __u16 qc_type; }: the queue's algorithm type (hisi_qm.h). */
export const HISI_QP_CTX_SIZE = 4;
/** struct hisi_qp_info { __u32 sqe_size; __u16 sq_depth; __u16 cq_depth; __u64 reserved; }. */
export const HISI_QP_INFO_SIZE = 16;
/** _IOWR('H', 10, struct hisi_qp_ctx): set the queue's algorithm type; the kernel writes back the id. */
export const UACCE_CMD_QM_SET_QP_CTX = ioc(IOC_READ | IOC_WRITE, 0x48, 10, HISI_QP_CTX_SIZE);
/** _IOWR('H', 11, struct hisi_qp_info): read the SQE size and the ring depths. */
export const UACCE_CMD_QM_SET_QP_INFO = ioc(IOC_READ | IOC_WRITE, 0x48, 11, HISI_QP_INFO_SIZE);

/** Request number -> name, for traces and errors. */
export const UACCE_IOCTL_NAMES: Record<number, string> = {
  [UACCE_CMD_START_Q]: "UACCE_CMD_START_Q",
  [UACCE_CMD_PUT_Q]: "UACCE_CMD_PUT_Q",
  [UACCE_CMD_QM_SET_QP_CTX]: "UACCE_CMD_QM_SET_QP_CTX",
  [UACCE_CMD_QM_SET_QP_INFO]: "UACCE_CMD_QM_SET_QP_INFO",
};

/** mmap offset of a queue file region: the region type in pages. */
export function qfrOffset(type: number, pageSize: number): number {
  return type * pageSize;
}
