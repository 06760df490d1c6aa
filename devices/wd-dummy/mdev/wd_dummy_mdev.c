// SPDX-License-Identifier: GPL-2.0-only
/*
 * wd-dummy as a VFIO mediated device: the WarpDrive proposal's memcpy accelerator, one queue per
 * mdev instance (the WarpDrive proposal's "the queue is wrapped as mdev in VFIO").
 *
 * Parent: a virtual device "wd_dummy" (class wd_dummy, so it shows up under /sys/class/mdev_bus/)
 * with one mdev type "wd-dummy" and WD_INSTANCES instances. Create one with
 *   echo <uuid> > /sys/class/mdev_bus/wd_dummy/mdev_supported_types/wd_dummy-wd-dummy/create
 * and open it with VFIO_GROUP_GET_DEVICE_FD("<uuid>").
 *
 * What the process sees (devices/wd-dummy.yaml):
 *   region 0: the queue page, 4 KiB, read/write/mmap:
 *     0x00 head  0x04 tail  0x08 doorbell  0x0c depth (64)  0x10 completed
 *     0x100: 64 descriptors of 32 bytes {src u64, dst u64, size u32, status u32, cookie u32, rsvd}
 *   irq index 1 (VFIO_PCI_MSI_IRQ_INDEX), 1 vector: an eventfd signalled after every batch.
 *   irq index 4 (VFIO_PCI_REQ_IRQ_INDEX), 1 vector: signalled when the instance is being removed
 *   (the vfio core calls our .request op while it waits for the process to close the device).
 *   VFIO_DEVICE_RESET: the queue back to its power-on state.
 *
 * How the doorbell reaches the worker (choice (a), a polled ring): the page is mmapped into the
 * process, so a store to the doorbell at 0x08 is a plain memory store the kernel never sees; the
 * layout puts the doorbell inside that page, so it cannot be split into a trapped part (sparse mmap
 * works in whole pages). The worker (one kthread per open instance) therefore polls `head`: it spins
 * while there was work in the last WD_SPIN_NS, then sleeps in short hrtimer naps (WD_NAP_US) for
 * WD_NAPS_NS, then in longer ones (WD_IDLE_US). A trapped doorbell exists as well, as a
 * fallback: a pwrite(2) of 4 bytes at offset 0x08 of region 0 wakes the worker at once (choice (b)
 * for clients that do not want to wait out a nap); the mmapped store alone is enough.
 * Measured (devices/wd-dummy/mdev/rate.ts, 4 KiB copies, QEMU TCG guest with 2 vCPUs on a shared
 * 2-core host, so noisy: the same setting varies 2-5x between runs): batches of 32 reach ~5,000-13,000
 * requests/s with either doorbell; at depth 1 the polled doorbell gives ~150-700 requests/s and the
 * trapped one ~1,300-2,400 in most runs (a nap is a timer under emulation; the trapped write wakes the
 * worker at once). Polling without naps (spin_us huge) was no better and often worse: the spinning
 * worker takes a vCPU from the process it serves.
 *
 * Work: for each descriptor from the worker's own tail (never re-read from the page) up to head: a
 * size of 0 or above MAX_COPY_SIZE is BAD_SIZE; otherwise src is read into a bounce buffer and dst
 * is probed page by page through vfio_dma_rw (only IOVAs the process mapped with
 * VFIO_IOMMU_MAP_DMA resolve), and only when both are entirely mapped is dst written: DONE;
 * otherwise DMA_FAULT and nothing is written. Then the status (a release store), after the batch
 * tail and completed, then the eventfd.
 *
 * Close with requests in flight (the process exits or closes the fd): the worker stops between two
 * descriptors; the one being copied completes, every later one up to head (at most a ring) gets
 * DMA_FAULT without being copied: each request is completed or failed, never both. The next open
 * starts from a zeroed page. Removing an instance that is open waits, in the vfio core, until the
 * process closes it; meanwhile the core calls .request (at once, then every 10 s), which signals
 * the REQ eventfd the process wired: a process that listens lets go, and the removal finishes.
 * Module unload removes every instance (same rule) and frees everything.
 */
#include <linux/module.h>
#include <linux/device.h>
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/vmalloc.h>
#include <linux/kthread.h>
#include <linux/delay.h>
#include <linux/wait.h>
#include <linux/eventfd.h>
#include <linux/uaccess.h>
#include <linux/vfio.h>
#include <linux/mdev.h>
#include <linux/version.h>

/*
 * Built for Debian's 6.1 and 6.12 kernels (test/vm --kernel 6.1|6.12). Between them:
 * eventfd_signal() lost its count argument (6.8), class_create() its module argument (6.4),
 * vma->vm_flags became read-only behind vm_flags_set() (6.3), and the vfio core took over freeing
 * the device after ops->release (6.2: vfio_free_device() is gone).
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 8, 0)
#define wd_eventfd_signal(ctx) eventfd_signal(ctx)
#else
#define wd_eventfd_signal(ctx) eventfd_signal(ctx, 1)
#endif
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0)
#define wd_class_create(name) class_create(name)
#else
#define wd_class_create(name) class_create(THIS_MODULE, name)
#endif
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
#define wd_vm_flags_set(vma, flags) vm_flags_set(vma, flags)
#else
#define wd_vm_flags_set(vma, flags) ((vma)->vm_flags |= (flags))
#endif

#define WD_NAME "wd_dummy"
#define WD_TYPE "wd-dummy"
#define WD_INSTANCES 4

#define WD_PAGE_SIZE 0x1000
#define WD_REG_HEAD 0x00
#define WD_REG_TAIL 0x04
#define WD_REG_DOORBELL 0x08
#define WD_REG_DEPTH 0x0c
#define WD_REG_COMPLETED 0x10
#define WD_RING_OFFSET 0x100
#define WD_RING_DEPTH 64
#define WD_DESC_SIZE 32
#define WD_MAX_COPY (1u << 20)

#define WD_ST_PENDING 0
#define WD_ST_DONE 1
#define WD_ST_DMA_FAULT 2
#define WD_ST_BAD_SIZE 3

#define WD_IRQ_INDEX VFIO_PCI_MSI_IRQ_INDEX
#define WD_REQ_INDEX VFIO_PCI_REQ_IRQ_INDEX
#define WD_NUM_IRQS (VFIO_PCI_REQ_IRQ_INDEX + 1)

/* polling: spin this long after the last work, then short naps, then long naps */
static unsigned int spin_us = 50;
module_param(spin_us, uint, 0644);
MODULE_PARM_DESC(spin_us, "busy-poll the ring this long after the last descriptor (us)");
static unsigned int nap_us = 50;
module_param(nap_us, uint, 0644);
MODULE_PARM_DESC(nap_us, "sleep between polls during the first naps_ms of idleness (us)");
static unsigned int naps_ms = 20;
module_param(naps_ms, uint, 0644);
MODULE_PARM_DESC(naps_ms, "how long short naps are used before long ones (ms)");
static unsigned int idle_us = 1000;
module_param(idle_us, uint, 0644);
MODULE_PARM_DESC(idle_us, "sleep between polls when idle for longer (us)");
static bool paused;
module_param(paused, bool, 0644);
MODULE_PARM_DESC(paused, "test knob: while set, workers leave the rings alone (requests wait, as on a busy device)");

struct wd_desc {
	__le64 src;
	__le64 dst;
	__le32 size;
	__le32 status;
	__le32 cookie;
	__le32 rsvd;
};

struct wd_queue {
	struct vfio_device vdev;
	struct page *page;	/* the queue page, mapped into the process */
	u8 *regs;		/* page_address(page) */
	void *bounce;		/* WD_MAX_COPY bytes */
	struct mutex lock;	/* worker batch vs reset/close/irq changes */
	struct eventfd_ctx *trigger;
	struct eventfd_ctx *req_trigger;	/* REQ: "the instance is being removed" */
	struct task_struct *worker;
	wait_queue_head_t kick_wq;
	atomic_t kick;
	u32 tail;		/* next descriptor to process (the worker's own) */
	u32 completed;
	/* statistics, in debugfs-free form: printed at close */
	u64 batches;
	u64 descs;
};

static struct wd_parent {
	struct device dev;
	struct class *cls;
	struct mdev_parent parent;
	struct mdev_type type;
	struct mdev_type *types[1];
} wd_parent;

static inline u32 *reg32(struct wd_queue *q, unsigned int off)
{
	return (u32 *)(q->regs + off);
}

static inline struct wd_desc *desc_at(struct wd_queue *q, u32 index)
{
	return (struct wd_desc *)(q->regs + WD_RING_OFFSET + (index % WD_RING_DEPTH) * WD_DESC_SIZE);
}

/* Power-on state of the page; the worker's counters follow. Caller holds q->lock or owns q alone. */
static void wd_reset_page(struct wd_queue *q)
{
	memset(q->regs, 0, WD_PAGE_SIZE);
	WRITE_ONCE(*reg32(q, WD_REG_DEPTH), WD_RING_DEPTH);
	q->tail = 0;
	q->completed = 0;
	smp_wmb();
}

/* Every page of [iova, iova + len) resolves to memory the process shared. */
static bool wd_dma_probe(struct wd_queue *q, u64 iova, u32 len, bool write)
{
	u64 end = iova + len, at = iova;
	u8 b;

	if (end < iova)
		return false;
	while (at < end) {
		if (vfio_dma_rw(&q->vdev, at, &b, 1, false))
			return false;
		at = (at & PAGE_MASK) + PAGE_SIZE;
	}
	/* the last byte as well: a range ending inside an unmapped page is caught above, this is cheap */
	return vfio_dma_rw(&q->vdev, end - 1, &b, 1, false) == 0;
}

static u32 wd_copy(struct wd_queue *q, struct wd_desc *d)
{
	u64 src = le64_to_cpu(READ_ONCE(d->src));
	u64 dst = le64_to_cpu(READ_ONCE(d->dst));
	u32 size = le32_to_cpu(READ_ONCE(d->size));

	if (size == 0 || size > WD_MAX_COPY)
		return WD_ST_BAD_SIZE;
	if (src + size < src || dst + size < dst)
		return WD_ST_DMA_FAULT;
	if (vfio_dma_rw(&q->vdev, src, q->bounce, size, false))
		return WD_ST_DMA_FAULT;
	if (!wd_dma_probe(q, dst, size, true))
		return WD_ST_DMA_FAULT;
	if (vfio_dma_rw(&q->vdev, dst, q->bounce, size, true))
		return WD_ST_DMA_FAULT; /* unmapped between the probe and the write: reported, never DONE */
	return WD_ST_DONE;
}

/*
 * One batch: every descriptor from tail up to the head read now. Returns how many were processed.
 * A head more than a ring ahead of tail is impossible for a correct host: ignored, as the sim model
 * does, instead of walking 2^32 entries.
 */
static u32 wd_run_batch(struct wd_queue *q)
{
	u32 head, n = 0;

	if (READ_ONCE(paused))
		return 0;
	mutex_lock(&q->lock);
	head = smp_load_acquire(reg32(q, WD_REG_HEAD));
	if (head - q->tail == 0 || head - q->tail > WD_RING_DEPTH) {
		mutex_unlock(&q->lock);
		return 0;
	}
	while (q->tail != head && !kthread_should_stop()) {
		struct wd_desc *d = desc_at(q, q->tail);
		u32 status = wd_copy(q, d);

		smp_store_release(&d->status, cpu_to_le32(status));
		q->tail++;
		q->completed++;
		n++;
	}
	smp_store_release(reg32(q, WD_REG_TAIL), q->tail);
	WRITE_ONCE(*reg32(q, WD_REG_COMPLETED), q->completed);
	q->batches++;
	q->descs += n;
	if (q->trigger)
		wd_eventfd_signal(q->trigger);
	mutex_unlock(&q->lock);
	return n;
}

static int wd_worker(void *arg)
{
	struct wd_queue *q = arg;
	u64 last_work = ktime_get_ns();

	while (!kthread_should_stop()) {
		u64 now, idle;

		if (wd_run_batch(q)) {
			last_work = ktime_get_ns();
			continue;
		}
		now = ktime_get_ns();
		idle = now - last_work;
		if (idle < (u64)spin_us * NSEC_PER_USEC) {
			cpu_relax();
			cond_resched();
			continue;
		}
		if (atomic_xchg(&q->kick, 0))
			continue;
		/* nap until the timeout, a trapped doorbell or stop */
		wait_event_interruptible_hrtimeout(q->kick_wq,
			atomic_read(&q->kick) || kthread_should_stop(),
			ns_to_ktime((u64)(idle < (u64)naps_ms * NSEC_PER_MSEC ? nap_us : idle_us) * NSEC_PER_USEC));
	}
	return 0;
}

static int wd_open_device(struct vfio_device *vdev)
{
	struct wd_queue *q = container_of(vdev, struct wd_queue, vdev);
	struct task_struct *t;

	mutex_lock(&q->lock);
	wd_reset_page(q);
	atomic_set(&q->kick, 0);
	q->batches = 0;
	q->descs = 0;
	mutex_unlock(&q->lock);
	t = kthread_run(wd_worker, q, "wd_dummy/%s", dev_name(vdev->dev));
	if (IS_ERR(t))
		return PTR_ERR(t);
	q->worker = t;
	return 0;
}

static void wd_close_device(struct vfio_device *vdev)
{
	struct wd_queue *q = container_of(vdev, struct wd_queue, vdev);
	u32 head, failed = 0;

	if (q->worker) {
		kthread_stop(q->worker);
		q->worker = NULL;
	}
	mutex_lock(&q->lock);
	/* what was queued and not started fails, once each; the page is reset at the next open */
	head = READ_ONCE(*reg32(q, WD_REG_HEAD));
	if (head - q->tail <= WD_RING_DEPTH) {
		while (q->tail != head) {
			smp_store_release(&desc_at(q, q->tail)->status, cpu_to_le32(WD_ST_DMA_FAULT));
			q->tail++;
			q->completed++;
			failed++;
		}
		WRITE_ONCE(*reg32(q, WD_REG_TAIL), q->tail);
		WRITE_ONCE(*reg32(q, WD_REG_COMPLETED), q->completed);
	}
	if (q->trigger) {
		eventfd_ctx_put(q->trigger);
		q->trigger = NULL;
	}
	if (q->req_trigger) {
		eventfd_ctx_put(q->req_trigger);
		q->req_trigger = NULL;
	}
	mutex_unlock(&q->lock);
	dev_dbg(vdev->dev, "closed: %llu descriptors in %llu batches, %u failed at close\n",
		q->descs, q->batches, failed);
}

static ssize_t wd_rw(struct wd_queue *q, char __user *ubuf, size_t count, loff_t *ppos, bool write)
{
	loff_t pos = *ppos;
	u32 val;

	/* region 0 only, 4-byte aligned registers and descriptor words */
	if (pos < 0 || pos >= WD_PAGE_SIZE || count != 4 || (pos & 3))
		return -EINVAL;
	if (write) {
		if (copy_from_user(&val, ubuf, 4))
			return -EFAULT;
		WRITE_ONCE(*reg32(q, pos), val);
		if (pos == WD_REG_DOORBELL) {
			atomic_set(&q->kick, 1);
			wake_up(&q->kick_wq);
		}
	} else {
		val = READ_ONCE(*reg32(q, pos));
		if (copy_to_user(ubuf, &val, 4))
			return -EFAULT;
	}
	*ppos += 4;
	return 4;
}

static ssize_t wd_read(struct vfio_device *vdev, char __user *buf, size_t count, loff_t *ppos)
{
	return wd_rw(container_of(vdev, struct wd_queue, vdev), buf, count, ppos, false);
}

static ssize_t wd_write(struct vfio_device *vdev, const char __user *buf, size_t count, loff_t *ppos)
{
	return wd_rw(container_of(vdev, struct wd_queue, vdev), (char __user *)buf, count, ppos, true);
}

static int wd_mmap(struct vfio_device *vdev, struct vm_area_struct *vma)
{
	struct wd_queue *q = container_of(vdev, struct wd_queue, vdev);

	if (vma->vm_pgoff != 0 || vma->vm_end - vma->vm_start != WD_PAGE_SIZE)
		return -EINVAL;
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	wd_vm_flags_set(vma, VM_DONTEXPAND | VM_DONTDUMP);
	return remap_pfn_range(vma, vma->vm_start, page_to_pfn(q->page), WD_PAGE_SIZE, vma->vm_page_prot);
}

static int wd_set_irqs(struct wd_queue *q, unsigned long arg)
{
	struct vfio_irq_set hdr;
	unsigned long minsz = offsetofend(struct vfio_irq_set, count);
	struct eventfd_ctx **slot;
	u32 type = 0;

	if (copy_from_user(&hdr, (void __user *)arg, minsz))
		return -EFAULT;
	if (hdr.argsz < minsz || (hdr.index != WD_IRQ_INDEX && hdr.index != WD_REQ_INDEX))
		return -EINVAL;
	slot = hdr.index == WD_REQ_INDEX ? &q->req_trigger : &q->trigger;
	if ((hdr.flags & VFIO_IRQ_SET_ACTION_TYPE_MASK) != VFIO_IRQ_SET_ACTION_TRIGGER)
		return -EINVAL;
	type = hdr.flags & VFIO_IRQ_SET_DATA_TYPE_MASK;
	if (hdr.start != 0 || hdr.count > 1)
		return -EINVAL;

	if (type == VFIO_IRQ_SET_DATA_NONE) {
		mutex_lock(&q->lock);
		if (hdr.count == 0) {
			if (*slot)
				eventfd_ctx_put(*slot);
			*slot = NULL;
		} else if (*slot) {
			wd_eventfd_signal(*slot);
		}
		mutex_unlock(&q->lock);
		return 0;
	}
	if (type == VFIO_IRQ_SET_DATA_EVENTFD) {
		s32 fd;
		struct eventfd_ctx *ctx = NULL;

		if (hdr.count == 0) {
			mutex_lock(&q->lock);
			if (*slot)
				eventfd_ctx_put(*slot);
			*slot = NULL;
			mutex_unlock(&q->lock);
			return 0;
		}
		if (hdr.argsz < minsz + sizeof(s32))
			return -EINVAL;
		if (copy_from_user(&fd, (void __user *)(arg + minsz), sizeof(fd)))
			return -EFAULT;
		if (fd >= 0) {
			ctx = eventfd_ctx_fdget(fd);
			if (IS_ERR(ctx))
				return PTR_ERR(ctx);
		}
		mutex_lock(&q->lock);
		if (*slot)
			eventfd_ctx_put(*slot);
		*slot = ctx;
		mutex_unlock(&q->lock);
		return 0;
	}
	return -EINVAL;
}

static long wd_ioctl(struct vfio_device *vdev, unsigned int cmd, unsigned long arg)
{
	struct wd_queue *q = container_of(vdev, struct wd_queue, vdev);
	unsigned long minsz;

	switch (cmd) {
	case VFIO_DEVICE_GET_INFO: {
		struct vfio_device_info info;

		minsz = offsetofend(struct vfio_device_info, num_irqs);
		if (copy_from_user(&info, (void __user *)arg, minsz))
			return -EFAULT;
		if (info.argsz < minsz)
			return -EINVAL;
		/* not PCI: no config space, no bus mastering to switch on */
		info.flags = VFIO_DEVICE_FLAGS_PLATFORM | VFIO_DEVICE_FLAGS_RESET;
		info.num_regions = 1;
		info.num_irqs = WD_NUM_IRQS;
		return copy_to_user((void __user *)arg, &info, minsz) ? -EFAULT : 0;
	}
	case VFIO_DEVICE_GET_REGION_INFO: {
		struct vfio_region_info info;

		minsz = offsetofend(struct vfio_region_info, offset);
		if (copy_from_user(&info, (void __user *)arg, minsz))
			return -EFAULT;
		if (info.argsz < minsz)
			return -EINVAL;
		if (info.index != 0)
			return -EINVAL;
		info.flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE | VFIO_REGION_INFO_FLAG_MMAP;
		info.cap_offset = 0;
		info.size = WD_PAGE_SIZE;
		info.offset = 0;
		return copy_to_user((void __user *)arg, &info, minsz) ? -EFAULT : 0;
	}
	case VFIO_DEVICE_GET_IRQ_INFO: {
		struct vfio_irq_info info;

		minsz = offsetofend(struct vfio_irq_info, count);
		if (copy_from_user(&info, (void __user *)arg, minsz))
			return -EFAULT;
		if (info.argsz < minsz || info.index >= WD_NUM_IRQS)
			return -EINVAL;
		if (info.index == WD_IRQ_INDEX || info.index == WD_REQ_INDEX) {
			info.flags = VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE;
			info.count = 1;
		} else {
			info.flags = 0;
			info.count = 0;
		}
		return copy_to_user((void __user *)arg, &info, minsz) ? -EFAULT : 0;
	}
	case VFIO_DEVICE_SET_IRQS:
		return wd_set_irqs(q, arg);
	case VFIO_DEVICE_RESET:
		/* between two batches: nothing is half done; queued descriptors are dropped unseen */
		mutex_lock(&q->lock);
		wd_reset_page(q);
		mutex_unlock(&q->lock);
		return 0;
	}
	return -ENOTTY;
}

/*
 * The vfio core asks for the device back (the instance is being removed while open): tell the
 * process through its REQ eventfd. Called again every 10 s until the process closes the device;
 * a process that did not wire REQ is simply waited for.
 */
static void wd_request(struct vfio_device *vdev, unsigned int count)
{
	struct wd_queue *q = container_of(vdev, struct wd_queue, vdev);

	mutex_lock(&q->lock);
	if (q->req_trigger) {
		if (!count)
			dev_info(vdev->dev, "removal: asking the process to release the queue\n");
		wd_eventfd_signal(q->req_trigger);
	} else if (!count) {
		dev_info(vdev->dev, "removal: no REQ eventfd, waiting for the process to close the queue\n");
	}
	mutex_unlock(&q->lock);
}

static void wd_dma_unmap(struct vfio_device *vdev, u64 iova, u64 length)
{
	/* nothing pinned: vfio_dma_rw looks every IOVA up under the IOMMU's lock at each access */
}

static int wd_init_dev(struct vfio_device *vdev)
{
	struct wd_queue *q = container_of(vdev, struct wd_queue, vdev);

	q->page = alloc_page(GFP_KERNEL | __GFP_ZERO);
	if (!q->page)
		return -ENOMEM;
	q->regs = page_address(q->page);
	q->bounce = kvmalloc(WD_MAX_COPY, GFP_KERNEL);
	if (!q->bounce) {
		__free_page(q->page);
		return -ENOMEM;
	}
	mutex_init(&q->lock);
	init_waitqueue_head(&q->kick_wq);
	wd_reset_page(q);
	return 0;
}

static void wd_release_dev(struct vfio_device *vdev)
{
	struct wd_queue *q = container_of(vdev, struct wd_queue, vdev);

	kvfree(q->bounce);
	__free_page(q->page);
	mutex_destroy(&q->lock);
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 2, 0)
	vfio_free_device(vdev);
#endif
}

static const struct vfio_device_ops wd_dev_ops = {
	.name = "vfio-wd-dummy",
	.init = wd_init_dev,
	.release = wd_release_dev,
	.open_device = wd_open_device,
	.close_device = wd_close_device,
	.read = wd_read,
	.write = wd_write,
	.ioctl = wd_ioctl,
	.mmap = wd_mmap,
	.request = wd_request,
	.dma_unmap = wd_dma_unmap,
};

static int wd_probe(struct mdev_device *mdev)
{
	struct wd_queue *q;
	int ret;

	q = vfio_alloc_device(wd_queue, vdev, &mdev->dev, &wd_dev_ops);
	if (IS_ERR(q))
		return PTR_ERR(q);
	ret = vfio_register_emulated_iommu_dev(&q->vdev);
	if (ret) {
		vfio_put_device(&q->vdev);
		return ret;
	}
	dev_set_drvdata(&mdev->dev, q);
	return 0;
}

static void wd_remove(struct mdev_device *mdev)
{
	struct wd_queue *q = dev_get_drvdata(&mdev->dev);

	/* waits until the process closed the device (close_device ran: every request settled) */
	vfio_unregister_group_dev(&q->vdev);
	vfio_put_device(&q->vdev);
}

static ssize_t wd_show_description(struct mdev_type *mtype, char *buf)
{
	return sysfs_emit(buf, "WarpDrive dummy memcpy queue: 1 ring of %d descriptors, copies up to %u bytes\n",
			  WD_RING_DEPTH, WD_MAX_COPY);
}

static struct mdev_driver wd_driver = {
	.device_api = VFIO_DEVICE_API_PLATFORM_STRING,
	.max_instances = WD_INSTANCES,
	.driver = {
		.name = WD_NAME,
		.owner = THIS_MODULE,
		.mod_name = KBUILD_MODNAME,
	},
	.probe = wd_probe,
	.remove = wd_remove,
	.show_description = wd_show_description,
};

static void wd_parent_release(struct device *dev)
{
}

static int __init wd_init(void)
{
	int ret;

	ret = mdev_register_driver(&wd_driver);
	if (ret)
		return ret;
	wd_parent.cls = wd_class_create(WD_NAME);
	if (IS_ERR(wd_parent.cls)) {
		ret = PTR_ERR(wd_parent.cls);
		goto err_driver;
	}
	wd_parent.dev.class = wd_parent.cls;
	wd_parent.dev.release = wd_parent_release;
	dev_set_name(&wd_parent.dev, "%s", WD_NAME);
	ret = device_register(&wd_parent.dev);
	if (ret)
		goto err_put;
	wd_parent.type.sysfs_name = WD_TYPE;
	wd_parent.type.pretty_name = "WarpDrive dummy memcpy queue";
	wd_parent.types[0] = &wd_parent.type;
	ret = mdev_register_parent(&wd_parent.parent, &wd_parent.dev, &wd_driver, wd_parent.types, 1);
	if (ret)
		goto err_dev;
	return 0;

err_dev:
	device_del(&wd_parent.dev);
err_put:
	put_device(&wd_parent.dev);
	class_destroy(wd_parent.cls);
err_driver:
	mdev_unregister_driver(&wd_driver);
	return ret;
}

static void __exit wd_exit(void)
{
	/* removes every instance: each waits for its process to close it */
	mdev_unregister_parent(&wd_parent.parent);
	device_unregister(&wd_parent.dev);
	class_destroy(wd_parent.cls);
	mdev_unregister_driver(&wd_driver);
}

module_init(wd_init);
module_exit(wd_exit);

MODULE_LICENSE("GPL v2");
MODULE_DESCRIPTION("WarpDrive dummy memcpy accelerator as a VFIO mediated device (one queue per mdev)");
