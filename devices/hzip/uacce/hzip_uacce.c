// SPDX-License-Identifier: GPL-2.0-only
/*
 * hzip as a UACCE device: a compression engine in the style of HiSilicon's ZIP behind the kernel's
 * UACCE queue files, with the queue manager's user ABI as UADK sees it (devices/hzip.yaml,
 * match.uacce, says what is faithful and what is not). An in-kernel worker per queue compresses and
 * decompresses for real with the kernel's zlib (raw deflate, zlib, gzip).
 *
 * Parent: a platform device "hzip_uacce" registered with UACCE as "hzip" (flags 0: no SVA), api
 * "hzip_qm_v2", algorithms deflate/zlib/gzip. Node /dev/hzip-<n>; each open is one queue pair
 * (HZ_QUEUES at most), numbered 0..HZ_QUEUES-1 (the sqn its doorbells and completions carry).
 *
 * What the process sees per queue:
 *   MMIO region (mmap offset 0, 2 pages): the QM's doorbell page layout. Page 0 holds the identity
 *     registers of the description's `qm` region (version 0x000, qp_num 0x004, max_depth 0x008,
 *     completed 0x00c); 0x1000 is the 64-bit doorbell: qn bits 9:0, cmd bits 15:12 (0 SQ, 1 CQ),
 *     index bits 47:32, priority bits 63:48.
 *   DUS region (mmap offset 1 page, HZ_DUS_SIZE): SQ at byte 0 (1024 x 128-byte hisi_zip_sqe), CQ
 *     right after it (1024 x 16-byte QM CQE), then memory for data buffers. The engine sees DUS byte 0
 *     at bus address HZ_DUS_ADDR (the description's dus-address) and reaches only the data part.
 *   ioctl UACCE_CMD_QM_SET_QP_CTX (_IOWR('H', 10), { u16 id; u16 qc_type }): qc_type kept, the
 *     queue's number written back into id. UACCE_CMD_QM_SET_QP_INFO (_IOWR('H', 11), { u32
 *     sqe_size; u16 sq_depth; u16 cq_depth; u64 reserved }): 128, 1024, 1024.
 *   poll(): readable once after every batch the worker finished.
 *   UACCE_CMD_START_Q: rings and doorbell back to empty, worker started. PUT_Q / close: stopped.
 *
 * The doorbell is a store into a page the kernel never sees: the worker samples the word (spin
 * while busy, short naps, then long naps; a poll() that finds nothing done wakes it), so it sees the
 * latest store, not every store. An SQ doorbell names a tail (all entries before it), so a later one
 * covers a missed one; the SDK repeats the last SQ doorbell after each CQ doorbell so the word never
 * ends on a CQ head that hid an unseen tail. The CQ head is therefore not used for flow control: the
 * process keeps at most depth - 1 requests out (a process that does not can only overwrite its own
 * unread completions).
 *
 * Removing the module with a queue open: uacce_remove zaps the process's mappings (a touch is then
 * SIGBUS unless the process guards them), stops and releases each queue (ioctl and mmap: ENXIO).
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
#include <linux/uaccess.h>
#include <linux/crc32.h>
#include <linux/zlib.h>
#include <linux/zutil.h>
#include <linux/bitmap.h>
#include <asm/unaligned.h>
#include <linux/uacce.h>

#define HZ_NAME "hzip"
#define HZ_API "hzip_qm_v2"
#define HZ_QUEUES 4

#define HZ_MMIO_SIZE 0x2000
#define HZ_REG_VERSION 0x000
#define HZ_REG_QP_NUM 0x004
#define HZ_REG_MAX_DEPTH 0x008
#define HZ_REG_COMPLETED 0x00c
#define HZ_DOORBELL 0x1000
#define HZ_VERSION 0x00010000

#define HZ_DEPTH 1024
#define HZ_SQE_SIZE 128
#define HZ_CQE_SIZE 16
#define HZ_SQ_BYTES (HZ_DEPTH * HZ_SQE_SIZE)
#define HZ_RING_BYTES (HZ_DEPTH * (HZ_SQE_SIZE + HZ_CQE_SIZE))
#define HZ_DUS_SIZE (16u << 20)
#define HZ_DUS_ADDR 0x200000000ULL
#define HZ_MAX_REQUEST 0x800000u

/* doorbell fields */
#define HZ_DB_QN(v) ((u32)(v) & 0x3ff)
#define HZ_DB_CMD(v) (((u32)(v) >> 12) & 0xf)
#define HZ_DB_INDEX(v) ((u32)((v) >> 32) & 0xffff)
#define HZ_DB_CMD_SQ 0
#define HZ_DB_CMD_CQ 1

/* hisi_zip_sqe fields used here (byte offsets) */
#define SQE_CONSUMED 0
#define SQE_PRODUCED 4
#define SQE_COMP_DATA_LENGTH 8
#define SQE_DW3 12
#define SQE_INPUT_DATA_LENGTH 16
#define SQE_REQ_TYPE 36
#define SQE_BUF_TYPE 37
#define SQE_OP 38
#define SQE_LEVEL 39
#define SQE_TAG 52
#define SQE_DEST_AVAIL_OUT 56
#define SQE_SOURCE_ADDR 72
#define SQE_DEST_ADDR 80

#define ALG_DEFLATE 0x01
#define ALG_ZLIB 0x02
#define ALG_GZIP 0x03
#define OP_COMPRESS 0
#define OP_DECOMPRESS 1

#define ST_OK 0x00
#define ST_BAD_REQUEST 0x01
#define ST_BAD_LENGTH 0x02
#define ST_DATA_ERROR 0x03
#define ST_OUTPUT_OVERFLOW 0x04
#define ST_DMA_FAULT 0x05
#define ST_NEGATIVE_COMPRESSION 0x0d
#define ST_CRC_ERROR 0x10

/* the QM ioctls as hisi_qm.h (uapi) defines them */
struct hz_qp_ctx {
	__u16 id;
	__u16 qc_type;
};
struct hz_qp_info {
	__u32 sqe_size;
	__u16 sq_depth;
	__u16 cq_depth;
	__u64 reserved;
};
#define HZ_CMD_SET_QP_CTX _IOWR('H', 10, struct hz_qp_ctx)
#define HZ_CMD_SET_QP_INFO _IOWR('H', 11, struct hz_qp_info)

static unsigned int spin_us = 50;
module_param(spin_us, uint, 0644);
MODULE_PARM_DESC(spin_us, "busy-poll the doorbell this long after the last request (us)");
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
MODULE_PARM_DESC(paused, "test knob: while set, workers leave the rings alone (requests wait, as on a busy engine)");

struct hz_queue {
	struct uacce_queue *uq;
	struct page *pages;	/* the MMIO region: 2 pages */
	u8 *regs;
	u8 *dus;		/* vmalloc_user, HZ_DUS_SIZE */
	u8 *bounce;		/* output staging: nothing reaches dst unless the request succeeds */
	void *deflate_ws;
	void *inflate_ws;
	struct mutex lock;	/* worker batch vs start/stop */
	struct task_struct *worker;
	atomic_t updated;
	wait_queue_head_t kick_wq;
	atomic_t kick;
	u16 qp_id;
	u16 qc_type;
	u32 sq_head;		/* next SQE the engine runs */
	u32 sq_tail;		/* last tail rung */
	u32 cq_tail;		/* next CQE slot */
	u32 phase;
	u32 completed;
};

static struct hz_parent {
	struct platform_device *pdev;
	struct uacce_device *uacce;
	struct mutex lock;	/* qp ids */
	unsigned long ids;	/* bitmap of qp ids in use */
} hz;

static inline u32 *reg32(struct hz_queue *q, unsigned int off)
{
	return (u32 *)(q->regs + off);
}

static inline u8 *sqe_at(struct hz_queue *q, u32 i)
{
	return q->dus + i * HZ_SQE_SIZE;
}

static inline u8 *cqe_at(struct hz_queue *q, u32 i)
{
	return q->dus + HZ_SQ_BYTES + i * HZ_CQE_SIZE;
}

static inline u32 get32(const u8 *p)
{
	return get_unaligned_le32(p);
}

static void hz_reset_state(struct hz_queue *q)
{
	memset(q->regs, 0, HZ_MMIO_SIZE);
	WRITE_ONCE(*reg32(q, HZ_REG_VERSION), HZ_VERSION);
	WRITE_ONCE(*reg32(q, HZ_REG_QP_NUM), HZ_QUEUES);
	WRITE_ONCE(*reg32(q, HZ_REG_MAX_DEPTH), HZ_DEPTH);
	memset(q->dus, 0, HZ_RING_BYTES);
	q->sq_head = 0;
	q->sq_tail = 0;
	q->cq_tail = 0;
	q->phase = 1;
	q->completed = 0;
	smp_wmb();
}

/* The data bytes behind bus address [addr, addr + len), or NULL: only DUS after the rings is data. */
static u8 *hz_dma(struct hz_queue *q, u64 addr, u32 len)
{
	u64 lo = HZ_DUS_ADDR + HZ_RING_BYTES, hi = HZ_DUS_ADDR + HZ_DUS_SIZE;

	if (addr < lo || addr > hi || len > hi - addr)
		return NULL;
	return q->dus + (addr - HZ_DUS_ADDR);
}

/* raw deflate of in[0..len) into out (room bytes); the bytes written, or -1 when they do not fit */
static long hz_deflate(struct hz_queue *q, int wbits, int level, const u8 *in, u32 len, u8 *out, u32 room)
{
	struct z_stream_s s = { .workspace = q->deflate_ws };
	long n = -1;

	if (zlib_deflateInit2(&s, level, Z_DEFLATED, wbits, DEF_MEM_LEVEL, Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	s.next_in = in;
	s.avail_in = len;
	s.next_out = out;
	s.avail_out = room;
	if (zlib_deflate(&s, Z_FINISH) == Z_STREAM_END)
		n = s.total_out;
	zlib_deflateEnd(&s);
	return n;
}

static u32 hz_compress(struct hz_queue *q, u8 alg, u8 level, const u8 *in, u32 len, u32 avail, u32 *produced)
{
	int lvl = level ? level : Z_DEFAULT_COMPRESSION;
	u8 *out = q->bounce;
	long n;

	if (alg == ALG_GZIP) {
		u32 crc;

		/* 10-byte header (no name, no mtime, OS unix), raw deflate, CRC-32 and length */
		if (avail < 18)
			return ST_OUTPUT_OVERFLOW;
		out[0] = 0x1f; out[1] = 0x8b; out[2] = 8; out[3] = 0;
		put_unaligned_le32(0, out + 4);
		out[8] = 0; out[9] = 3;
		n = hz_deflate(q, -MAX_WBITS, lvl, in, len, out + 10, avail - 18);
		if (n < 0)
			return ST_OUTPUT_OVERFLOW;
		crc = crc32_le(~0u, in, len) ^ ~0u;
		put_unaligned_le32(crc, out + 10 + n);
		put_unaligned_le32(len, out + 14 + n);
		n += 18;
	} else {
		n = hz_deflate(q, alg == ALG_ZLIB ? MAX_WBITS : -MAX_WBITS, lvl, in, len, out, avail);
		if (n < 0)
			return ST_OUTPUT_OVERFLOW;
	}
	*produced = n;
	return (u32)n > len ? ST_NEGATIVE_COMPRESSION : ST_OK;
}

/*
 * Raw inflate of one deflate stream from in[0..len) into out (room bytes). Returns a status; on OK
 * *used is the input consumed and *made the output written.
 */
static u32 hz_inflate_raw(struct hz_queue *q, const u8 *in, u32 len, u8 *out, u32 room, u32 *used, u32 *made)
{
	struct z_stream_s s = { .workspace = q->inflate_ws };
	int r;

	if (zlib_inflateInit2(&s, -MAX_WBITS) != Z_OK)
		return ST_DATA_ERROR;
	s.next_in = in;
	s.avail_in = len;
	s.next_out = out;
	/* one byte more than the room: a stream that needs it does not fit */
	s.avail_out = room + 1;
	r = zlib_inflate(&s, Z_FINISH);
	*used = s.total_in;
	*made = s.total_out;
	zlib_inflateEnd(&s);
	if (r == Z_STREAM_END)
		return *made > room ? ST_OUTPUT_OVERFLOW : ST_OK;
	if (s.total_out > room)
		return ST_OUTPUT_OVERFLOW;
	/* a bad code, or the input ran out before the stream ended */
	return ST_DATA_ERROR;
}

/* gzip header (RFC 1952) at in[0..len): its length, or 0 when it is not one */
static u32 hz_gzip_header(const u8 *in, u32 len)
{
	u32 at = 10;
	u8 flg;

	if (len < 10 || in[0] != 0x1f || in[1] != 0x8b || in[2] != 8)
		return 0;
	flg = in[3];
	if (flg & 0xe0)
		return 0;
	if (flg & 0x04) {	/* FEXTRA */
		if (len < at + 2)
			return 0;
		at += 2 + (in[at] | (in[at + 1] << 8));
	}
	if (flg & 0x08) {	/* FNAME */
		while (at < len && in[at])
			at++;
		at++;
	}
	if (flg & 0x10) {	/* FCOMMENT */
		while (at < len && in[at])
			at++;
		at++;
	}
	if (flg & 0x02)		/* FHCRC */
		at += 2;
	return at <= len ? at : 0;
}

static u32 hz_decompress(struct hz_queue *q, u8 alg, const u8 *in, u32 len, u32 avail, u32 *produced)
{
	u32 used, made, st;

	if (alg == ALG_DEFLATE) {
		st = hz_inflate_raw(q, in, len, q->bounce, avail, &used, &made);
		if (st == ST_OK)
			*produced = made;
		return st;
	}
	if (alg == ALG_ZLIB) {
		u16 hdr;

		if (len < 2)
			return ST_DATA_ERROR;
		hdr = (in[0] << 8) | in[1];
		/* deflate, window <= 32 KiB, header check, no preset dictionary */
		if ((in[0] & 0x0f) != 8 || (in[0] >> 4) > 7 || hdr % 31 || (in[1] & 0x20))
			return ST_DATA_ERROR;
		st = hz_inflate_raw(q, in + 2, len - 2, q->bounce, avail, &used, &made);
		if (st != ST_OK)
			return st;
		if (len - 2 - used < 4)
			return ST_DATA_ERROR;
		if (zlib_adler32(1, q->bounce, made) != get_unaligned_be32(in + 2 + used))
			return ST_CRC_ERROR;
		*produced = made;
		return ST_OK;
	}
	/* gzip: one or more members; bytes after the last member that are not a member are ignored */
	{
		u32 at = 0, out = 0;
		bool first = true;

		while (first || (len - at >= 2 && in[at] == 0x1f && in[at + 1] == 0x8b)) {
			u32 h = hz_gzip_header(in + at, len - at);

			if (!h)
				return ST_DATA_ERROR;
			at += h;
			st = hz_inflate_raw(q, in + at, len - at, q->bounce + out, avail - out, &used, &made);
			if (st != ST_OK)
				return st;
			at += used;
			if (len - at < 8)
				return ST_DATA_ERROR;
			if ((crc32_le(~0u, q->bounce + out, made) ^ ~0u) != get32(in + at) || made != get32(in + at + 4))
				return ST_CRC_ERROR;
			at += 8;
			out += made;
			first = false;
			cond_resched();
		}
		*produced = out;
		return ST_OK;
	}
}

/* One request: checks, the work, the write-back into the SQE. */
static void hz_execute(struct hz_queue *q, u8 *e)
{
	u8 alg = e[SQE_REQ_TYPE], op = e[SQE_OP], level = e[SQE_LEVEL];
	u32 len = get32(e + SQE_INPUT_DATA_LENGTH), avail = get32(e + SQE_DEST_AVAIL_OUT);
	u64 src = get_unaligned_le64(e + SQE_SOURCE_ADDR), dst = get_unaligned_le64(e + SQE_DEST_ADDR);
	u32 st, produced = 0, consumed = 0;
	u8 *in, *out;

	if (e[SQE_BUF_TYPE] != 0 || (op != OP_COMPRESS && op != OP_DECOMPRESS) ||
	    alg < ALG_DEFLATE || alg > ALG_GZIP || level > 9) {
		st = ST_BAD_REQUEST;
		goto done;
	}
	if (len == 0 || len > HZ_MAX_REQUEST || avail == 0 || avail > HZ_MAX_REQUEST) {
		st = ST_BAD_LENGTH;
		goto done;
	}
	in = hz_dma(q, src, len);
	out = hz_dma(q, dst, avail);
	if (!in || !out) {
		st = ST_DMA_FAULT;
		goto done;
	}
	st = op == OP_COMPRESS ? hz_compress(q, alg, level, in, len, avail, &produced)
			       : hz_decompress(q, alg, in, len, avail, &produced);
	if (st == ST_OK || st == ST_NEGATIVE_COMPRESSION) {
		memcpy(out, q->bounce, produced);
		consumed = len;
	} else {
		produced = 0;
	}
done:
	put_unaligned_le32(consumed, e + SQE_CONSUMED);
	put_unaligned_le32(produced, e + SQE_PRODUCED);
	put_unaligned_le32(op == OP_COMPRESS ? produced : consumed, e + SQE_COMP_DATA_LENGTH);
	put_unaligned_le32(st, e + SQE_DW3);
}

/* The completion of SQE `index`: fields first, the phase word last (what the process polls). */
static void hz_post(struct hz_queue *q, u8 *e, u32 index)
{
	u8 *c = cqe_at(q, q->cq_tail);

	put_unaligned_le32(0, c);
	put_unaligned_le16(get32(e + SQE_TAG) & 0xffff, c + 4);
	put_unaligned_le16(0, c + 6);
	put_unaligned_le16(index, c + 8);
	put_unaligned_le16(q->qp_id, c + 10);
	put_unaligned_le16(0, c + 12);
	smp_store_release((u16 *)(c + 14), cpu_to_le16(q->phase));
	if (++q->cq_tail == HZ_DEPTH) {
		q->cq_tail = 0;
		q->phase ^= 1;
	}
}

/* Reads the doorbell word; every SQE from the head up to the tail it names runs. */
static u32 hz_run_batch(struct hz_queue *q)
{
	u64 db;
	u32 n = 0;

	if (READ_ONCE(paused))
		return 0;
	mutex_lock(&q->lock);
	db = smp_load_acquire((u64 *)(q->regs + HZ_DOORBELL));
	/* another queue's number, a CQ head or a tail past the ring: nothing to fetch */
	if (HZ_DB_QN(db) == q->qp_id && HZ_DB_CMD(db) == HZ_DB_CMD_SQ && HZ_DB_INDEX(db) < HZ_DEPTH)
		q->sq_tail = HZ_DB_INDEX(db);
	while (q->sq_head != q->sq_tail && !kthread_should_stop()) {
		u8 *e = sqe_at(q, q->sq_head);

		hz_execute(q, e);
		hz_post(q, e, q->sq_head);
		q->sq_head = (q->sq_head + 1) % HZ_DEPTH;
		q->completed++;
		WRITE_ONCE(*reg32(q, HZ_REG_COMPLETED), q->completed);
		n++;
		/* completions become visible as they come: the process may be waiting for the first */
		atomic_set(&q->updated, 1);
		wake_up_interruptible(&q->uq->wait);
		cond_resched();
	}
	mutex_unlock(&q->lock);
	return n;
}

static int hz_worker(void *arg)
{
	struct hz_queue *q = arg;
	u64 last_work = ktime_get_ns();

	while (!kthread_should_stop()) {
		u64 idle;

		if (hz_run_batch(q)) {
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
		wait_event_interruptible_hrtimeout(q->kick_wq,
			atomic_read(&q->kick) || kthread_should_stop(),
			ns_to_ktime((u64)(idle < (u64)naps_ms * NSEC_PER_MSEC ? nap_us : idle_us) * NSEC_PER_USEC));
	}
	return 0;
}

static int hz_get_available_instances(struct uacce_device *uacce)
{
	int n;

	mutex_lock(&hz.lock);
	n = HZ_QUEUES - bitmap_weight(&hz.ids, HZ_QUEUES);
	mutex_unlock(&hz.lock);
	return n;
}

static void hz_free(struct hz_queue *q)
{
	vfree(q->inflate_ws);
	vfree(q->deflate_ws);
	vfree(q->bounce);
	vfree(q->dus);
	if (q->pages)
		__free_pages(q->pages, 1);
	kfree(q);
}

static int hz_get_queue(struct uacce_device *uacce, unsigned long pasid, struct uacce_queue *uq)
{
	struct hz_queue *q;
	unsigned long id;

	mutex_lock(&hz.lock);
	id = find_first_zero_bit(&hz.ids, HZ_QUEUES);
	if (id >= HZ_QUEUES) {
		mutex_unlock(&hz.lock);
		return -EBUSY;
	}
	set_bit(id, &hz.ids);
	mutex_unlock(&hz.lock);

	q = kzalloc(sizeof(*q), GFP_KERNEL);
	if (!q)
		goto err;
	q->pages = alloc_pages(GFP_KERNEL | __GFP_ZERO, 1);
	q->dus = vmalloc_user(HZ_DUS_SIZE);
	q->bounce = vmalloc(HZ_MAX_REQUEST + 1);
	q->deflate_ws = vmalloc(zlib_deflate_workspacesize(MAX_WBITS, MAX_MEM_LEVEL));
	q->inflate_ws = vmalloc(zlib_inflate_workspacesize());
	if (!q->pages || !q->dus || !q->bounce || !q->deflate_ws || !q->inflate_ws) {
		hz_free(q);
		goto err;
	}
	q->regs = page_address(q->pages);
	q->qp_id = id;
	mutex_init(&q->lock);
	init_waitqueue_head(&q->kick_wq);
	q->uq = uq;
	hz_reset_state(q);
	uq->priv = q;
	return 0;

err:
	mutex_lock(&hz.lock);
	clear_bit(id, &hz.ids);
	mutex_unlock(&hz.lock);
	return -ENOMEM;
}

static void hz_put_queue(struct uacce_queue *uq)
{
	struct hz_queue *q = uq->priv;
	u16 id = q->qp_id;

	mutex_destroy(&q->lock);
	hz_free(q);
	uq->priv = NULL;
	mutex_lock(&hz.lock);
	clear_bit(id, &hz.ids);
	mutex_unlock(&hz.lock);
}

static int hz_start_queue(struct uacce_queue *uq)
{
	struct hz_queue *q = uq->priv;
	struct task_struct *t;

	mutex_lock(&q->lock);
	hz_reset_state(q);
	atomic_set(&q->updated, 0);
	atomic_set(&q->kick, 0);
	mutex_unlock(&q->lock);
	t = kthread_run(hz_worker, q, "hzip_uacce/%u", q->qp_id);
	if (IS_ERR(t))
		return PTR_ERR(t);
	q->worker = t;
	return 0;
}

static void hz_stop_queue(struct uacce_queue *uq)
{
	struct hz_queue *q = uq->priv;

	if (q->worker) {
		kthread_stop(q->worker);
		q->worker = NULL;
	}
	/* requests not run stay in the SQ: the next START_Q empties the rings */
	atomic_set(&q->updated, 1);
	wake_up_interruptible(&uq->wait);
}

static int hz_is_q_updated(struct uacce_queue *uq)
{
	struct hz_queue *q = uq->priv;

	if (!q)
		return 0;
	if (atomic_xchg(&q->updated, 0))
		return 1;
	/* the process waits for completions: a doorbell it stored may be unseen by a napping worker */
	atomic_set(&q->kick, 1);
	wake_up(&q->kick_wq);
	return 0;
}

static long hz_ioctl(struct uacce_queue *uq, unsigned int cmd, unsigned long arg)
{
	struct hz_queue *q = uq->priv;

	if (cmd == HZ_CMD_SET_QP_CTX) {
		struct hz_qp_ctx ctx;

		if (copy_from_user(&ctx, (void __user *)arg, sizeof(ctx)))
			return -EFAULT;
		/* kept, not used: the direction is per request in this engine (the SQE's op byte) */
		q->qc_type = ctx.qc_type;
		ctx.id = q->qp_id;
		return copy_to_user((void __user *)arg, &ctx, sizeof(ctx)) ? -EFAULT : 0;
	}
	if (cmd == HZ_CMD_SET_QP_INFO) {
		struct hz_qp_info info = { .sqe_size = HZ_SQE_SIZE, .sq_depth = HZ_DEPTH, .cq_depth = HZ_DEPTH };

		return copy_to_user((void __user *)arg, &info, sizeof(info)) ? -EFAULT : 0;
	}
	return -EINVAL;
}

static int hz_mmap(struct uacce_queue *uq, struct vm_area_struct *vma, struct uacce_qfile_region *qfr)
{
	struct hz_queue *q = uq->priv;
	unsigned long size = vma->vm_end - vma->vm_start;

	/* the core does not check the size against qf_pg_num: the whole region, nothing else */
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	switch (qfr->type) {
	case UACCE_QFRT_MMIO:
		if (size != HZ_MMIO_SIZE)
			return -EINVAL;
		vma->vm_flags |= VM_IO | VM_DONTDUMP;
		return remap_pfn_range(vma, vma->vm_start, page_to_pfn(q->pages), HZ_MMIO_SIZE, vma->vm_page_prot);
	case UACCE_QFRT_DUS:
		if (size != HZ_DUS_SIZE)
			return -EINVAL;
		vma->vm_flags |= VM_DONTDUMP;
		return remap_vmalloc_range(vma, q->dus, 0);
	default:
		return -EINVAL;
	}
}

static const struct uacce_ops hz_ops = {
	.get_available_instances = hz_get_available_instances,
	.get_queue = hz_get_queue,
	.put_queue = hz_put_queue,
	.start_queue = hz_start_queue,
	.stop_queue = hz_stop_queue,
	.is_q_updated = hz_is_q_updated,
	.mmap = hz_mmap,
	.ioctl = hz_ioctl,
};

static int __init hz_init(void)
{
	struct uacce_interface iface = { .name = HZ_NAME, .flags = 0, .ops = &hz_ops };
	struct uacce_device *uacce;
	int ret;

	mutex_init(&hz.lock);
	hz.pdev = platform_device_register_simple("hzip_uacce", PLATFORM_DEVID_NONE, NULL, 0);
	if (IS_ERR(hz.pdev))
		return PTR_ERR(hz.pdev);
	uacce = uacce_alloc(&hz.pdev->dev, &iface);
	if (IS_ERR(uacce)) {
		ret = PTR_ERR(uacce);
		goto err_pdev;
	}
	uacce->api_ver = HZ_API;
	uacce->algs = "deflate\nzlib\ngzip";
	uacce->qf_pg_num[UACCE_QFRT_MMIO] = HZ_MMIO_SIZE >> PAGE_SHIFT;
	uacce->qf_pg_num[UACCE_QFRT_DUS] = HZ_DUS_SIZE >> PAGE_SHIFT;
	uacce->priv = &hz;
	ret = uacce_register(uacce);
	if (ret) {
		uacce_remove(uacce);
		goto err_pdev;
	}
	hz.uacce = uacce;
	return 0;

err_pdev:
	platform_device_unregister(hz.pdev);
	return ret;
}

static void __exit hz_exit(void)
{
	/* zaps every process mapping, stops and releases every open queue */
	uacce_remove(hz.uacce);
	platform_device_unregister(hz.pdev);
}

module_init(hz_init);
module_exit(hz_exit);

MODULE_LICENSE("GPL v2");
MODULE_DESCRIPTION("hzip compression engine (kernel zlib) as a UACCE device with the HiSilicon QM v2 user ABI");
