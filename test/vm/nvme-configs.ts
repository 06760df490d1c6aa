// NVMe controller configurations the NVMe tests run against: each one is presented by the sim model
// (devices/nvme/model.ts options, passed as spec.modelOptions) in `bun run test`, and by QEMU's nvme
// and nvme-ns devices (their properties, below) in the VM suite, one guest boot per configuration.
// `expect` is what the client must find on either: the tests check it, so a configuration that was
// not really presented (a QEMU property ignored, a model option dropped) fails instead of quietly
// testing the default controller again.
import type { NvmeModelOptions } from "@warpdrive/nvme/model";

export interface NvmeQemuConfig {
  /** Extra properties of `-device nvme` (the controller; its drive is namespace 1 unless `namespaces`). */
  controller: Record<string, string | number>;
  /** nvme-ns devices instead of the controller's own drive: id and logical block size each. */
  namespaces?: { nsid: number; logicalBlockSize?: number }[];
}

export interface NvmeConfig {
  name: string;
  /** One line: what differs from the default controller. */
  about: string;
  sim: NvmeModelOptions;
  /** null: QEMU 7.2 cannot present it (it has no mqes property; QEMU 8.2 has). */
  qemu: NvmeQemuConfig | null;
  expect: {
    /** Active namespaces and their logical block sizes; the client uses the first. */
    namespaces: { nsid: number; blockSize: number }[];
    /** I/O queue pairs created when the tests ask for 2. */
    ioQueues: number;
    /** I/O queue depth in use when the tests ask for 32. */
    ioDepth: number;
    /** MSI-X vector of the I/O completion queues. */
    ioVector: number;
    /** Identify Controller MDTS, and the client's largest transfer per command. */
    mdts: number;
    maxTransferBytes: number;
  };
}

/** The tests ask for 2 I/O queue pairs of depth 32 (test/hw/nvme.test.ts). */
export const ASKED = { ioQueues: 2, ioDepth: 32 } as const;

export const NVME_CONFIGS: readonly NvmeConfig[] = [
  {
    name: "default",
    about: "QEMU 7.2's defaults: 512-byte blocks, MDTS 7 (512 KiB), 64 queue pairs, 65 vectors, MQES 2047, namespace 1",
    sim: {},
    qemu: { controller: {} },
    expect: { namespaces: [{ nsid: 1, blockSize: 512 }], ioQueues: 2, ioDepth: 32, ioVector: 1, mdts: 7, maxTransferBytes: 512 * 1024 },
  },
  {
    name: "lba4k-mdts1",
    about: "4096-byte logical blocks, MDTS 1 (8 KiB per command)",
    sim: { blockSize: 4096, mdts: 1 },
    qemu: { controller: { logical_block_size: 4096, physical_block_size: 4096, mdts: 1 } },
    expect: { namespaces: [{ nsid: 1, blockSize: 4096 }], ioQueues: 2, ioDepth: 32, ioVector: 1, mdts: 1, maxTransferBytes: 8192 },
  },
  {
    name: "ns2-ns3-mdts0",
    about: "namespaces 2 (512 B) and 3 (4 KiB), no namespace 1; MDTS 0 (no limit: one PRP list page, 2 MiB)",
    sim: { mdts: 0, namespaces: [{ nsid: 2 }, { nsid: 3, blockSize: 4096 }] },
    qemu: { controller: { mdts: 0 }, namespaces: [{ nsid: 2 }, { nsid: 3, logicalBlockSize: 4096 }] },
    expect: {
      namespaces: [{ nsid: 2, blockSize: 512 }, { nsid: 3, blockSize: 4096 }],
      ioQueues: 2,
      ioDepth: 32,
      ioVector: 1,
      mdts: 0,
      maxTransferBytes: 2 * 1024 * 1024,
    },
  },
  {
    name: "1-queue-pair",
    about: "one I/O queue pair (max_ioqpairs 1) where two are asked for, 2 vectors",
    sim: { maxIoQueuePairs: 1, msixVectors: 2 },
    qemu: { controller: { max_ioqpairs: 1, msix_qsize: 2 } },
    expect: { namespaces: [{ nsid: 1, blockSize: 512 }], ioQueues: 1, ioDepth: 32, ioVector: 1, mdts: 7, maxTransferBytes: 512 * 1024 },
  },
  {
    name: "1-vector",
    about: "one MSI-X vector (msix_qsize 1) for the admin queue and both I/O queues, 4 queue pairs",
    sim: { maxIoQueuePairs: 4, msixVectors: 1 },
    qemu: { controller: { max_ioqpairs: 4, msix_qsize: 1 } },
    expect: { namespaces: [{ nsid: 1, blockSize: 512 }], ioQueues: 2, ioDepth: 32, ioVector: 0, mdts: 7, maxTransferBytes: 512 * 1024 },
  },
  {
    name: "mqes7",
    about: "CAP.MQES 7: I/O queues of 8 entries where 32 are asked for (sim only: QEMU 7.2 has no mqes property)",
    sim: { mqes: 7 },
    qemu: null,
    expect: { namespaces: [{ nsid: 1, blockSize: 512 }], ioQueues: 2, ioDepth: 8, ioVector: 1, mdts: 7, maxTransferBytes: 512 * 1024 },
  },
];

/** A configuration by name, or an Error listing the names. */
export function nvmeConfig(name: string): NvmeConfig {
  const c = NVME_CONFIGS.find((x) => x.name === name);
  if (c === undefined) throw new Error(`unknown NVMe configuration "${name}" (known: ${NVME_CONFIGS.map((x) => x.name).join(", ")})`);
  return c;
}

/** Environment variable naming the configuration a vfio run is against (set by test/vm per boot). */
export const NVME_CONFIG_ENV = "WD_NVME_CONFIG";
