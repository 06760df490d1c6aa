// SPDX-License-Identifier: GPL-2.0-only
/*
 * wd-dummy as a UACCE device: the WarpDrive proposal's memcpy accelerator behind the kernel's UACCE
 * queue files (drivers/misc/uacce), the mainline successor of WarpDrive. Same ring as
 * devices/wd-dummy.yaml; the same generated client drives it on sim, VFIO-mdev and here.
 *
 * Parent: a platform device "wd_dummy_uacce" registered with UACCE as "wd_dummy" (flags 0: no SVA),
 * api "wd_dummy_v1", algorithms "memcpy". Node /dev/wd_dummy-<n>, attributes under
 * /sys/class/uacce/wd_dummy-<n>/. Each open of the node is one queue (WD_INSTANCES at most:
 * available_instances counts the rest; an open beyond them gets EBUSY).
 *
 * What the process sees per queue:
 *   MMIO region (mmap offset 0, 4 KiB): the queue page of devices/wd-dummy.yaml:
 *     0x00 head  0x04 tail  0x08 doorbell  0x0c depth (64)  0x10 completed
 *     0x100: 64 descriptors of 32 bytes {src u64, dst u64, size u32, status u32, cookie u32, rsvd}
 *   DUS region (mmap offset 1 page, WD_DUS_SIZE): the only memory the engine reaches (no SVA). The
 *     engine sees DUS byte 0 at bus address WD_DUS_ADDR (the description's uacce dus-address);
 *     src/dst must lie, with their size, inside [WD_DUS_ADDR, WD_DUS_ADDR + WD_DUS_SIZE).
 *   poll(): readable once after every batch the worker finished (is_q_updated takes the flag).
 *   UACCE_CMD_START_Q: the queue page back to its power-on state, worker started.
 *   UACCE_CMD_PUT_Q (and close): worker stopped; descriptors queued and not started get DMA_FAULT.
 *
 * The doorbell is a store into the mapped page that the kernel never sees: the worker polls `head`
 * the way the mdev module does (spin while busy, short naps, then long naps), and a poll() of the
 * process that finds nothing completed wakes it from its nap (the process waits only for work it
 * queued, so a head it stored may be unseen).
 *
 * Removing the module with a queue open: uacce_remove zaps the process's mappings (a later touch is
 * SIGBUS), stops and releases each queue (ioctl and mmap then give ENXIO, poll reports nothing).
 */
#include <linux/module.h>
#include <linux/platform_device.h>
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/vmalloc.h>
#include <linux/kthread.h>
#include <linux/delay.h>
#include <linux/wait.h>
#include <linux/uacce.h>

#define WD_NAME "wd_dummy"
#define WD_API "wd_dummy_v1"
#define WD_INSTANCES 4

#define WD_PAGE_SIZE 0x1000
#define WD_REG_HEAD 0x00
#define WD_REG_TAIL 0x04
#define WD_REG_DEPTH 0x0c
#define WD_REG_COMPLETED 0x10
#define WD_RING_OFFSET 0x100
#define WD_RING_DEPTH 64
#define WD_DESC_SIZE 32
#define WD_MAX_COPY (1u << 20)

#define WD_DUS_SIZE (4u << 20)
#define WD_DUS_ADDR 0x100000000ULL

#define WD_ST_DONE 1
#define WD_ST_DMA_FAULT 2
#define WD_ST_BAD_SIZE 3

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
	struct uacce_queue *uq;
	struct page *page;	/* the queue page (MMIO region) */
	u8 *regs;
	u8 *dus;		/* vmalloc_user, WD_DUS_SIZE */
	struct mutex lock;	/* worker batch vs start/stop */
	struct task_struct *worker;
	atomic_t updated;	/* a batch finished since the last poll that saw it */
	wait_queue_head_t kick_wq;
	atomic_t kick;		/* the process polled: wake a napping worker */
	u32 tail;
	u32 completed;
};

static struct wd_parent {
	struct platform_device *pdev;
	struct uacce_device *uacce;
	atomic_t queues;
} wd;

static inline u32 *reg32(struct wd_queue *q, unsigned int off)
{
	return (u32 *)(q->regs + off);
}

static inline struct wd_desc *desc_at(struct wd_queue *q, u32 index)
{
	return (struct wd_desc *)(q->regs + WD_RING_OFFSET + (index % WD_RING_DEPTH) * WD_DESC_SIZE);
}

static void wd_reset_page(struct wd_queue *q)
{
	memset(q->regs, 0, WD_PAGE_SIZE);
	WRITE_ONCE(*reg32(q, WD_REG_DEPTH), WD_RING_DEPTH);
	q->tail = 0;
	q->completed = 0;
	smp_wmb();
}

/* The DUS bytes behind [addr, addr + size), or NULL when any of it is outside DUS. */
static u8 *wd_dus_at(struct wd_queue *q, u64 addr, u32 size)
{
	if (addr < WD_DUS_ADDR || addr - WD_DUS_ADDR > WD_DUS_SIZE || size > WD_DUS_SIZE - (addr - WD_DUS_ADDR))
		return NULL;
	return q->dus + (addr - WD_DUS_ADDR);
}

static u32 wd_copy(struct wd_queue *q, struct wd_desc *d)
{
	u64 src = le64_to_cpu(READ_ONCE(d->src));
	u64 dst = le64_to_cpu(READ_ONCE(d->dst));
	u32 size = le32_to_cpu(READ_ONCE(d->size));
	u8 *s, *t;

	if (size == 0 || size > WD_MAX_COPY)
		return WD_ST_BAD_SIZE;
	s = wd_dus_at(q, src, size);
	t = wd_dus_at(q, dst, size);
	if (!s || !t)
		return WD_ST_DMA_FAULT;
	memmove(t, s, size);
	return WD_ST_DONE;
}

/* Every descriptor from tail up to the head read now; a head more than a ring ahead is ignored. */
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

		smp_store_release(&d->status, cpu_to_le32(wd_copy(q, d)));
		q->tail++;
		q->completed++;
		n++;
	}
	smp_store_release(reg32(q, WD_REG_TAIL), q->tail);
	WRITE_ONCE(*reg32(q, WD_REG_COMPLETED), q->completed);
	atomic_set(&q->updated, 1);
	wake_up_interruptible(&q->uq->wait);
	mutex_unlock(&q->lock);
	return n;
}

static int wd_worker(void *arg)
{
	struct wd_queue *q = arg;
	u64 last_work = ktime_get_ns();

	while (!kthread_should_stop()) {
		u64 idle;

		if (wd_run_batch(q)) {
			last_work = ktime_get_ns();
			continue;
		}
		idle = ktime_get_ns() - last_work;
		if (idle < (u64)spin_us * NSEC_PER_USEC) {
			cpu_relax();
			cond_resched();
			continue;
		}
		if (atomic_xchg(&q->kick, 0))
			continue;
		/* nap until the timeout, a poll() of the process, or stop */
		wait_event_interruptible_hrtimeout(q->kick_wq,
			atomic_read(&q->kick) || kthread_should_stop(),
			ns_to_ktime((u64)(idle < (u64)naps_ms * NSEC_PER_MSEC ? nap_us : idle_us) * NSEC_PER_USEC));
	}
	return 0;
}

static int wd_get_available_instances(struct uacce_device *uacce)
{
	return WD_INSTANCES - atomic_read(&wd.queues);
}

static int wd_get_queue(struct uacce_device *uacce, unsigned long pasid, struct uacce_queue *uq)
{
	struct wd_queue *q;

	if (atomic_inc_return(&wd.queues) > WD_INSTANCES) {
		atomic_dec(&wd.queues);
		return -EBUSY;
	}
	q = kzalloc(sizeof(*q), GFP_KERNEL);
	if (!q)
		goto err;
	q->page = alloc_page(GFP_KERNEL | __GFP_ZERO);
	if (!q->page)
		goto err_q;
	q->regs = page_address(q->page);
	q->dus = vmalloc_user(WD_DUS_SIZE);
	if (!q->dus)
		goto err_page;
	mutex_init(&q->lock);
	init_waitqueue_head(&q->kick_wq);
	q->uq = uq;
	wd_reset_page(q);
	uq->priv = q;
	return 0;

err_page:
	__free_page(q->page);
err_q:
	kfree(q);
err:
	atomic_dec(&wd.queues);
	return -ENOMEM;
}

static void wd_put_queue(struct uacce_queue *uq)
{
	struct wd_queue *q = uq->priv;

	/* the core stopped the queue first; mappings are gone (last fd reference, or zapped by remove) */
	vfree(q->dus);
	__free_page(q->page);
	mutex_destroy(&q->lock);
	kfree(q);
	uq->priv = NULL;
	atomic_dec(&wd.queues);
}

static int wd_start_queue(struct uacce_queue *uq)
{
	struct wd_queue *q = uq->priv;
	struct task_struct *t;

	mutex_lock(&q->lock);
	wd_reset_page(q);
	atomic_set(&q->updated, 0);
	atomic_set(&q->kick, 0);
	mutex_unlock(&q->lock);
	t = kthread_run(wd_worker, q, "wd_dummy_uacce");
	if (IS_ERR(t))
		return PTR_ERR(t);
	q->worker = t;
	return 0;
}

static void wd_stop_queue(struct uacce_queue *uq)
{
	struct wd_queue *q = uq->priv;
	u32 head;

	if (q->worker) {
		kthread_stop(q->worker);
		q->worker = NULL;
	}
	mutex_lock(&q->lock);
	/* queued and not started: failed, once each (the next START_Q resets the page) */
	head = READ_ONCE(*reg32(q, WD_REG_HEAD));
	if (head - q->tail <= WD_RING_DEPTH) {
		while (q->tail != head) {
			smp_store_release(&desc_at(q, q->tail)->status, cpu_to_le32(WD_ST_DMA_FAULT));
			q->tail++;
			q->completed++;
		}
		WRITE_ONCE(*reg32(q, WD_REG_TAIL), q->tail);
		WRITE_ONCE(*reg32(q, WD_REG_COMPLETED), q->completed);
	}
	atomic_set(&q->updated, 1);
	wake_up_interruptible(&uq->wait);
	mutex_unlock(&q->lock);
}

static int wd_is_q_updated(struct uacce_queue *uq)
{
	struct wd_queue *q = uq->priv;

	if (!q)
		return 0;
	if (atomic_xchg(&q->updated, 0))
		return 1;
	/*
	 * The process waits for completions, so it may have stored a head the napping worker has not
	 * seen yet: poll() doubles as a trapped doorbell (the store itself never reaches the kernel).
	 */
	atomic_set(&q->kick, 1);
	wake_up(&q->kick_wq);
	return 0;
}

static int wd_mmap(struct uacce_queue *uq, struct vm_area_struct *vma, struct uacce_qfile_region *qfr)
{
	struct wd_queue *q = uq->priv;
	unsigned long size = vma->vm_end - vma->vm_start;

	/* the core does not check the size against qf_pg_num: the whole region, nothing else */
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	switch (qfr->type) {
	case UACCE_QFRT_MMIO:
		if (size != WD_PAGE_SIZE)
			return -EINVAL;
		vma->vm_flags |= VM_IO | VM_DONTDUMP;
		return remap_pfn_range(vma, vma->vm_start, page_to_pfn(q->page), WD_PAGE_SIZE, vma->vm_page_prot);
	case UACCE_QFRT_DUS:
		if (size != WD_DUS_SIZE)
			return -EINVAL;
		vma->vm_flags |= VM_DONTDUMP;
		/* from the buffer's first page: vm_pgoff is the region type, and the core needs it kept */
		return remap_vmalloc_range(vma, q->dus, 0);
	default:
		return -EINVAL;
	}
}

static const struct uacce_ops wd_ops = {
	.get_available_instances = wd_get_available_instances,
	.get_queue = wd_get_queue,
	.put_queue = wd_put_queue,
	.start_queue = wd_start_queue,
	.stop_queue = wd_stop_queue,
	.is_q_updated = wd_is_q_updated,
	.mmap = wd_mmap,
};

static int __init wd_init(void)
{
	struct uacce_interface iface = { .name = WD_NAME, .flags = 0, .ops = &wd_ops };
	struct uacce_device *uacce;
	int ret;

	wd.pdev = platform_device_register_simple("wd_dummy_uacce", PLATFORM_DEVID_NONE, NULL, 0);
	if (IS_ERR(wd.pdev))
		return PTR_ERR(wd.pdev);
	uacce = uacce_alloc(&wd.pdev->dev, &iface);
	if (IS_ERR(uacce)) {
		ret = PTR_ERR(uacce);
		goto err_pdev;
	}
	uacce->api_ver = WD_API;
	uacce->algs = "memcpy";
	uacce->qf_pg_num[UACCE_QFRT_MMIO] = WD_PAGE_SIZE >> PAGE_SHIFT;
	uacce->qf_pg_num[UACCE_QFRT_DUS] = WD_DUS_SIZE >> PAGE_SHIFT;
	uacce->priv = &wd;
	ret = uacce_register(uacce);
	if (ret) {
		uacce_remove(uacce);
		goto err_pdev;
	}
	wd.uacce = uacce;
	return 0;

err_pdev:
	platform_device_unregister(wd.pdev);
	return ret;
}

static void __exit wd_exit(void)
{
	/* zaps every process mapping, stops and releases every open queue */
	uacce_remove(wd.uacce);
	platform_device_unregister(wd.pdev);
}

module_init(wd_init);
module_exit(wd_exit);

MODULE_LICENSE("GPL v2");
MODULE_DESCRIPTION("WarpDrive dummy memcpy accelerator as a UACCE device");
