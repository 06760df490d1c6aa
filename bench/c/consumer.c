/*
 * The benchmark's native device: a consumer thread with the wd-dummy ring semantics, over memory
 * the caller hands it, plus a C client that drives any page laid out the same way.
 *
 * Built at bench time into a shared library and loaded with bun:ffi (bench/native/lib.ts). The
 * generated TypeScript client reaches the consumer through an ordinary runtime Backend
 * (bench/native/backend.ts); the C client below drives the same consumer through the same page, so
 * the two clients are measured against one device.
 *
 * Device semantics (as devices/wd-dummy.yaml and its sim model): on a doorbell change the device
 * reads the producer index and, if it is at most a ring ahead of its own consumer index, works up
 * to it in order: size 0 or above the maximum -> BAD_SIZE; src/dst (with size) not inside memory the
 * host mapped for DMA -> DMA_FAULT, nothing written; else copy and DONE. The status store (release)
 * comes after the copy; after the batch the tail and completed registers are stored and the done
 * interrupt is raised once (an eventfd write, coalesced while the host has not taken the last one).
 * The consumer index is the device's own counter, never re-read from the page.
 *
 * Layout numbers (register and field offsets, depth, status codes) come from the caller (taken from
 * the generated package), so nothing here repeats the description.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/perf_event.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Layout words, in the order bench/native/lib.ts fills them. */
enum {
    L_HEAD, L_TAIL, L_DOORBELL, L_DEPTH_REG, L_COMPLETED, L_RING, L_DEPTH, L_ENTRY,
    L_SRC, L_DST, L_SIZE, L_STATUS, L_COOKIE, L_MAX_COPY, L_PENDING, L_DONE, L_DMA_FAULT, L_BAD_SIZE,
    L_COUNT
};

enum { MAX_MAPS = 64 };

struct dma_map {
    _Atomic uint64_t size; /* 0: free; published last (release) */
    uint64_t iova;
    uint64_t ptr;
};

struct wdc_dev {
    uint8_t *page;
    size_t page_size;
    uint32_t l[L_COUNT];
    pthread_t thread;
    _Atomic int tid;
    _Atomic int stop;
    _Atomic uint32_t reset_req, reset_ack;
    /* odd while the consumer works on a batch: unmap waits for it to move on (see wdc_dma_unmap) */
    _Atomic uint64_t epoch;
    _Atomic uint32_t nmaps; /* high-water mark of used table entries */
    struct dma_map maps[MAX_MAPS];
    int efd;
    _Atomic int irq_pending;
    _Atomic uint64_t descriptors; /* statistics: descriptors completed, batches */
    _Atomic uint64_t batches;
};

static inline _Atomic uint32_t *reg(uint8_t *page, uint32_t off) { return (_Atomic uint32_t *)(page + off); }

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Process address of [addr, addr+len) if one DMA mapping holds all of it, else NULL. */
static uint8_t *translate(struct wdc_dev *d, uint64_t addr, uint64_t len, uint32_t *hint) {
    uint32_t n = atomic_load_explicit(&d->nmaps, memory_order_acquire);
    for (uint32_t k = 0; k < n; k++) {
        uint32_t i = (*hint + k) % n;
        /* seq_cst: pairs with wdc_dma_unmap's store and epoch load (x86: a plain load) */
        uint64_t size = atomic_load_explicit(&d->maps[i].size, memory_order_seq_cst);
        uint64_t iova = d->maps[i].iova;
        if (size == 0 || addr < iova) continue;
        uint64_t off = addr - iova;
        if (off > size || len > size - off) continue;
        *hint = i;
        return (uint8_t *)(uintptr_t)(d->maps[i].ptr + off);
    }
    return NULL;
}

static uint32_t process(struct wdc_dev *d, uint8_t *e, uint32_t *hint) {
    uint32_t size;
    uint64_t src, dst;
    memcpy(&size, e + d->l[L_SIZE], 4);
    memcpy(&src, e + d->l[L_SRC], 8);
    memcpy(&dst, e + d->l[L_DST], 8);
    if (size == 0 || size > d->l[L_MAX_COPY]) return d->l[L_BAD_SIZE];
    uint8_t *s = translate(d, src, size, hint);
    uint8_t *t = s ? translate(d, dst, size, hint) : NULL;
    if (!s || !t) return d->l[L_DMA_FAULT];
    memmove(t, s, size);
    return d->l[L_DONE];
}

static void device_reset(struct wdc_dev *d, uint32_t *tail, uint32_t *target, uint32_t *seen, uint32_t *completed) {
    memset(d->page, 0, d->page_size);
    atomic_store_explicit(reg(d->page, d->l[L_DEPTH_REG]), d->l[L_DEPTH], memory_order_release);
    *tail = *target = *seen = *completed = 0;
}

static void *consumer(void *arg) {
    struct wdc_dev *d = arg;
    atomic_store(&d->tid, (int)syscall(SYS_gettid));
    uint32_t tail = 0, target = 0, seen = 0, completed = 0, hint = 0;
    const uint32_t depth = d->l[L_DEPTH], entry = d->l[L_ENTRY], status_off = d->l[L_STATUS];
    uint8_t *ring = d->page + d->l[L_RING];
    uint64_t idle_since = 0;
    uint32_t spins = 0, nap_us = 20;
    while (!atomic_load_explicit(&d->stop, memory_order_relaxed)) {
        uint32_t rq = atomic_load_explicit(&d->reset_req, memory_order_acquire);
        if (rq != atomic_load_explicit(&d->reset_ack, memory_order_relaxed)) {
            device_reset(d, &tail, &target, &seen, &completed);
            atomic_store_explicit(&d->reset_ack, rq, memory_order_release);
            continue;
        }
        uint32_t db = atomic_load_explicit(reg(d->page, d->l[L_DOORBELL]), memory_order_acquire);
        if (db != seen) {
            seen = db;
            uint32_t head = atomic_load_explicit(reg(d->page, d->l[L_HEAD]), memory_order_acquire);
            /* a head more than a ring ahead is not a state a client can create: ignored, not walked */
            if ((uint32_t)(head - tail) <= depth) target = head;
        }
        if (tail == target) {
            /* Idle: spin (a busy client's next doorbell comes within nanoseconds), then after 1 ms
             * nap in growing steps (20 us .. 1 ms) so an idle bench does not take a core. */
            cpu_relax();
            if (++spins < 256) continue;
            spins = 0;
            uint64_t t = now_ns();
            if (idle_since == 0) idle_since = t;
            if (t - idle_since > 1000000) {
                struct timespec ts = {0, (long)nap_us * 1000};
                nanosleep(&ts, NULL);
                if (nap_us < 1000) nap_us *= 2;
            }
            continue;
        }
        idle_since = 0;
        nap_us = 20;
        atomic_fetch_add_explicit(&d->epoch, 1, memory_order_seq_cst);
        uint32_t n = 0;
        while (tail != target) {
            uint8_t *e = ring + (tail % depth) * entry;
            uint32_t st = process(d, e, &hint);
            atomic_store_explicit((_Atomic uint32_t *)(e + status_off), st, memory_order_release);
            tail++;
            completed++;
            n++;
        }
        atomic_fetch_add_explicit(&d->epoch, 1, memory_order_seq_cst);
        atomic_store_explicit(reg(d->page, d->l[L_TAIL]), tail, memory_order_release);
        atomic_store_explicit(reg(d->page, d->l[L_COMPLETED]), completed, memory_order_release);
        atomic_fetch_add_explicit(&d->descriptors, n, memory_order_relaxed);
        atomic_fetch_add_explicit(&d->batches, 1, memory_order_relaxed);
        if (!atomic_exchange_explicit(&d->irq_pending, 1, memory_order_acq_rel)) {
            uint64_t one = 1;
            ssize_t w = write(d->efd, &one, 8);
            (void)w;
        }
    }
    return NULL;
}

/* ---- device lifetime ---- */

/* A device over a fresh zeroed page of `page_size` bytes; layout: L_COUNT u32 words. NULL on failure. */
struct wdc_dev *wdc_open(const uint32_t *layout, uint32_t page_size) {
    struct wdc_dev *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    memcpy(d->l, layout, sizeof d->l);
    d->page_size = page_size;
    if (posix_memalign((void **)&d->page, 4096, page_size)) goto fail;
    d->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (d->efd < 0) goto fail;
    memset(d->page, 0, page_size);
    atomic_store(reg(d->page, d->l[L_DEPTH_REG]), d->l[L_DEPTH]);
    if (pthread_create(&d->thread, NULL, consumer, d)) goto fail_efd;
    while (!atomic_load(&d->tid)) cpu_relax(); /* started: its tid is known */
    return d;
fail_efd:
    close(d->efd);
fail:
    free(d->page);
    free(d);
    return NULL;
}

void *wdc_page(struct wdc_dev *d) { return d->page; }
int wdc_tid(struct wdc_dev *d) { return atomic_load(&d->tid); }
int wdc_irq_fd(struct wdc_dev *d) { return d->efd; }
double wdc_descriptors(struct wdc_dev *d) { return (double)atomic_load(&d->descriptors); }
double wdc_batches(struct wdc_dev *d) { return (double)atomic_load(&d->batches); }

/* Returns once the consumer has reset itself and the page (registers to reset values, ring zero). */
void wdc_reset(struct wdc_dev *d) {
    uint32_t rq = atomic_fetch_add(&d->reset_req, 1) + 1;
    while (atomic_load_explicit(&d->reset_ack, memory_order_acquire) != rq) cpu_relax();
}

void wdc_close(struct wdc_dev *d) {
    if (!d) return;
    atomic_store(&d->stop, 1);
    pthread_join(d->thread, NULL);
    close(d->efd);
    free(d->page);
    free(d);
}

/* ---- DMA table (the IOMMU of this device) ---- */

/* Maps [iova, iova+size) to process memory at ptr; 0 ok, -1 table full. */
int wdc_dma_map(struct wdc_dev *d, double iova, double ptr, double size) {
    uint32_t n = atomic_load(&d->nmaps);
    uint32_t i = 0;
    while (i < n && atomic_load(&d->maps[i].size) != 0) i++;
    if (i == MAX_MAPS) return -1;
    d->maps[i].iova = (uint64_t)iova;
    d->maps[i].ptr = (uint64_t)ptr;
    atomic_store_explicit(&d->maps[i].size, (uint64_t)size, memory_order_release);
    if (i == n) atomic_store_explicit(&d->nmaps, n + 1, memory_order_release);
    return 0;
}

/*
 * Removes the mapping at iova; on return the consumer no longer uses that memory. The entry is
 * cleared (seq_cst), then the epoch read (seq_cst): either the consumer's next lookup sees the
 * cleared entry, or the epoch was odd (a batch under way) and we wait until it moves. 0 ok, -1 none.
 */
int wdc_dma_unmap(struct wdc_dev *d, double iova) {
    uint32_t n = atomic_load(&d->nmaps);
    for (uint32_t i = 0; i < n; i++) {
        if (atomic_load(&d->maps[i].size) == 0 || d->maps[i].iova != (uint64_t)iova) continue;
        atomic_store(&d->maps[i].size, 0);
        uint64_t e = atomic_load(&d->epoch);
        if (e & 1)
            while (atomic_load(&d->epoch) == e) cpu_relax();
        return 0;
    }
    return -1;
}

/* ---- interrupt line: poll + read of the eventfd, clearing the coalescing flag first ---- */

int wdc_irq_wait(struct wdc_dev *d, int timeout_ms) {
    atomic_store(&d->irq_pending, 0);
    struct pollfd p = {d->efd, POLLIN, 0};
    int r = poll(&p, 1, timeout_ms);
    if (r <= 0) return 0;
    uint64_t v;
    return read(d->efd, &v, 8) == 8 ? 1 : 0;
}

double wdc_irq_take(struct wdc_dev *d) {
    atomic_store(&d->irq_pending, 0);
    uint64_t v;
    return read(d->efd, &v, 8) == 8 ? (double)v : 0;
}

/* ---- the C client: the same protocol as the runtime's index-ring engine ----
 * It takes up where the page is (producer index), writes whole descriptors with the pending status,
 * publishes the producer index and the doorbell (release stores), and reaps by polling the status of
 * the oldest request in flight. Buffers are given as bus addresses (resolved once by the caller). */

struct client {
    uint8_t *page;
    const uint32_t *l;
    uint32_t head, next;
    uint64_t src, dst;
    uint32_t size;
    uint32_t bad; /* completions that were not DONE */
};

static void client_init(struct client *c, uint8_t *page, const uint32_t *l, double src, double dst, uint32_t size) {
    c->page = page;
    c->l = l;
    c->head = c->next = atomic_load_explicit(reg(page, l[L_HEAD]), memory_order_acquire);
    c->src = (uint64_t)src;
    c->dst = (uint64_t)dst;
    c->size = size;
    c->bad = 0;
}

static inline uint8_t *slot(struct client *c, uint32_t i) {
    return c->page + c->l[L_RING] + (i % c->l[L_DEPTH]) * c->l[L_ENTRY];
}

static inline void client_fill(struct client *c) {
    uint8_t *e = slot(c, c->head);
    memcpy(e + c->l[L_SRC], &c->src, 8);
    memcpy(e + c->l[L_DST], &c->dst, 8);
    memcpy(e + c->l[L_SIZE], &c->size, 4);
    memcpy(e + c->l[L_COOKIE], &c->head, 4);
    atomic_store_explicit((_Atomic uint32_t *)(e + c->l[L_STATUS]), c->l[L_PENDING], memory_order_relaxed);
    c->head++;
}

static inline void client_publish(struct client *c) {
    atomic_store_explicit(reg(c->page, c->l[L_HEAD]), c->head, memory_order_release);
    atomic_store_explicit(reg(c->page, c->l[L_DOORBELL]), c->head, memory_order_release);
}

/* One completion if the oldest request is done: 1, else 0. */
static inline int client_reap(struct client *c) {
    if (c->next == c->head) return 0;
    uint32_t st = atomic_load_explicit((_Atomic uint32_t *)(slot(c, c->next) + c->l[L_STATUS]), memory_order_acquire);
    if (st == c->l[L_PENDING]) return 0;
    if (st != c->l[L_DONE]) c->bad++;
    c->next++;
    return 1;
}

/* A device that stops completing must not hang the benchmark: called while waiting, gives up after
 * 10 s without progress (checked every 2^20 polls, so it costs nothing measurable). */
static int stalled(uint64_t *polls, uint64_t *since) {
    if ((++*polls & 0xfffff) != 0) return 0;
    uint64_t t = now_ns();
    if (*since == 0) *since = t;
    return t - *since > 10000000000ull;
}

/*
 * Ring kept full, one doorbell per `batch` requests, `n` requests in all (n a multiple of batch).
 * Returns elapsed ns, or -1 if the device stopped completing; *bad gets the completions that were
 * not DONE.
 */
double wdc_client_oneway(void *page, const uint32_t *l, double n, uint32_t batch, double src, double dst, uint32_t size, uint32_t *bad) {
    struct client c;
    client_init(&c, page, l, src, dst, size);
    const uint64_t total = (uint64_t)n;
    uint64_t sent = 0, done = 0, polls = 0, since = 0;
    const uint32_t depth = l[L_DEPTH];
    uint64_t t0 = now_ns();
    while (done < total) {
        while (sent < total && (c.head - c.next) + batch <= depth) {
            for (uint32_t b = 0; b < batch; b++) client_fill(&c);
            client_publish(&c);
            sent += batch;
        }
        uint64_t before = done;
        while (client_reap(&c)) done++;
        if (done != before) polls = since = 0;
        else if (stalled(&polls, &since)) return -1;
    }
    uint64_t t1 = now_ns();
    *bad = c.bad;
    return (double)(t1 - t0);
}

/* Histogram bucket of a duration: 16 linear sub-buckets per power of two (bench/latency.ts decodes it). */
static inline uint32_t bucket(uint64_t ns) {
    if (ns < 16) return (uint32_t)ns;
    uint32_t e = 63 - __builtin_clzll(ns); /* >= 4 */
    uint32_t b = (e - 3) * 16 + (uint32_t)((ns >> (e - 4)) & 15);
    return b < 1023 ? b : 1023;
}

/*
 * One request at a time: send, doorbell, spin until it is back. With hist (1024 u32 buckets) every
 * round trip is timed into it. Returns elapsed ns, or -1 if the device stopped completing.
 */
double wdc_client_roundtrip(void *page, const uint32_t *l, double n, double src, double dst, uint32_t size, uint32_t *bad, uint32_t *hist) {
    struct client c;
    client_init(&c, page, l, src, dst, size);
    const uint64_t total = (uint64_t)n;
    uint64_t t0 = now_ns();
    for (uint64_t i = 0; i < total; i++) {
        uint64_t s = hist ? now_ns() : 0;
        client_fill(&c);
        client_publish(&c);
        uint64_t polls = 0, since = 0;
        while (!client_reap(&c)) {
            cpu_relax();
            if (stalled(&polls, &since)) return -1;
        }
        if (hist) hist[bucket(now_ns() - s)]++;
    }
    uint64_t t1 = now_ns();
    *bad = c.bad;
    return (double)(t1 - t0);
}

/* ---- system call counting: one perf counter of the raw_syscalls:sys_enter tracepoint per thread ---- */

/* An fd counting system calls entered by thread `tid` (disabled until enabled), or -errno. */
int wdc_syscall_counter(int tid, double tracepoint_id) {
    struct perf_event_attr a;
    memset(&a, 0, sizeof a);
    a.size = sizeof a;
    a.type = PERF_TYPE_TRACEPOINT;
    a.config = (uint64_t)tracepoint_id;
    a.disabled = 1;
    a.inherit = 1; /* threads this one starts inside the window count too */
    int fd = (int)syscall(SYS_perf_event_open, &a, tid, -1, -1, PERF_FLAG_FD_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

/* Enables (on != 0) or disables every counter in fds[0..n) back to back; returns 0 or -errno. */
int wdc_counters_enable(const int *fds, uint32_t n, int on) {
    for (uint32_t i = 0; i < n; i++)
        if (ioctl(fds[i], on ? PERF_EVENT_IOC_ENABLE : PERF_EVENT_IOC_DISABLE, 0) < 0) return -errno;
    return 0;
}

/* The counter's value, or -1. */
double wdc_counter_read(int fd) {
    uint64_t v;
    return read(fd, &v, 8) == 8 ? (double)v : -1;
}

/* The histogram bucket of a duration (tests hold bench/latency.ts to the same formula). */
uint32_t wdc_bucket(double ns) { return bucket((uint64_t)ns); }
