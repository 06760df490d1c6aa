// Numbers of the virtio 1.x PCI transport and split virtqueue (virtio 1.2: 2.1 device status,
// 2.7 split virtqueues, 4.1.4 PCI capabilities, 6 reserved feature bits). One place, pinned by tests.

/** device_status bits (2.1). */
export const STATUS_ACKNOWLEDGE = 1;
export const STATUS_DRIVER = 2;
export const STATUS_DRIVER_OK = 4;
export const STATUS_FEATURES_OK = 8;
export const STATUS_DEVICE_NEEDS_RESET = 0x40;
export const STATUS_FAILED = 0x80;

/** Transport feature bits (6). */
export const F_INDIRECT_DESC = 28;
export const F_EVENT_IDX = 29;
export const F_VERSION_1 = 32;
export const F_ACCESS_PLATFORM = 33;
export const F_RING_PACKED = 34;
export const F_IN_ORDER = 35;
export const F_ORDER_PLATFORM = 36;
export const F_NOTIFICATION_DATA = 38;

/** cfg_type of the virtio_pci_cap structures (4.1.4). */
export const CAP_COMMON_CFG = 1;
export const CAP_NOTIFY_CFG = 2;
export const CAP_ISR_CFG = 3;
export const CAP_DEVICE_CFG = 4;
export const CAP_PCI_CFG = 5;

/** struct virtio_pci_common_cfg (4.1.4.3): byte offsets. */
export const COMMON = {
  deviceFeatureSelect: 0x00, // le32
  deviceFeature: 0x04, // le32, ro
  driverFeatureSelect: 0x08, // le32
  driverFeature: 0x0c, // le32
  configMsixVector: 0x10, // le16
  numQueues: 0x12, // le16, ro
  deviceStatus: 0x14, // u8
  configGeneration: 0x15, // u8, ro
  queueSelect: 0x16, // le16
  queueSize: 0x18, // le16
  queueMsixVector: 0x1a, // le16
  queueEnable: 0x1c, // le16
  queueNotifyOff: 0x1e, // le16, ro
  queueDesc: 0x20, // le64
  queueDriver: 0x28, // le64
  queueDevice: 0x30, // le64
} as const;
/** Bytes of the common configuration structure in virtio 1.0/1.1 (1.2 adds two le16 after it). */
export const COMMON_CFG_SIZE = 0x38;
/** "No MSI-X vector" in config_msix_vector / queue_msix_vector. */
export const NO_VECTOR = 0xffff;

/** Split virtqueue layout (2.7). */
export const DESC_SIZE = 16; // le64 addr, le32 len, le16 flags, le16 next
export const DESC_F_NEXT = 1;
export const DESC_F_WRITE = 2;
export const DESC_F_INDIRECT = 4;
export const AVAIL_F_NO_INTERRUPT = 1;
export const USED_F_NO_NOTIFY = 1;
/** Alignment of the descriptor table, available ring and used ring (2.7 table "Virtqueue Part Alignment"). */
export const DESC_ALIGN = 16;
export const AVAIL_ALIGN = 2;
export const USED_ALIGN = 4;
/** Largest queue size a split virtqueue may have. */
export const MAX_QUEUE_SIZE = 32768;

export function availBytes(size: number): number {
  return 6 + 2 * size; // flags, idx, ring[size], used_event
}
export function usedBytes(size: number): number {
  return 6 + 8 * size; // flags, idx, ring[size] of (id le32, len le32), avail_event
}

/** vring_need_event (2.7.10): whether moving an index from `old` to `next` crossed `event`. */
export function needEvent(event: number, next: number, old: number): boolean {
  return ((next - event - 1) & 0xffff) < ((next - old) & 0xffff);
}

/** Names of the transport feature bits, for messages. */
export const FEATURE_NAMES: Readonly<Record<number, string>> = {
  [F_INDIRECT_DESC]: "VIRTIO_F_INDIRECT_DESC",
  [F_EVENT_IDX]: "VIRTIO_F_EVENT_IDX",
  [F_VERSION_1]: "VIRTIO_F_VERSION_1",
  [F_ACCESS_PLATFORM]: "VIRTIO_F_ACCESS_PLATFORM",
  [F_RING_PACKED]: "VIRTIO_F_RING_PACKED",
  [F_IN_ORDER]: "VIRTIO_F_IN_ORDER",
  [F_ORDER_PLATFORM]: "VIRTIO_F_ORDER_PLATFORM",
  [F_NOTIFICATION_DATA]: "VIRTIO_F_NOTIFICATION_DATA",
};

export function bit(n: number): bigint {
  return 1n << BigInt(n);
}
