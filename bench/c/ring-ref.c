/*
 * Reference for the queue benchmark: the wd-dummy ring in C, client and device as two pthreads.
 *
 * Same layout and protocol as devices/wd-dummy.yaml: one 4 KiB queue page with the producer index
 * (head) at 0x00, the consumer index (tail) at 0x04, the doorbell at 0x08 and 64 descriptors of
 * 32 bytes {src u64, dst u64, size u32, status u32, cookie u32, rsvd u32} from 0x100. The client
 * writes descriptors with status PENDING, publishes head, writes the doorbell; the device copies,
 * writes status DONE and advances tail. Indices are free-running u32 counters.
 *
 * Prints one JSON object: {"roundTripNs":..,"batch1PerSec":..,"batch32PerSec":..}.
 * Usage: ring-ref <round-trips> <one-way-requests> <copy-bytes>
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { DEPTH = 64, RING_OFFSET = 0x100, PENDING = 0, DONE = 1 };

struct desc {
    uint64_t src, dst;
    uint32_t size;
    _Atomic uint32_t status;
    uint32_t cookie, rsvd;
};

struct page {
    _Atomic uint32_t head;
    _Atomic uint32_t tail;
    _Atomic uint32_t doorbell;
};

static _Alignas(4096) unsigned char queue_page[4096];
static _Atomic int stop;

static struct page *pg(void) { return (struct page *)queue_page; }
static struct desc *slot(uint32_t i) { return (struct desc *)(queue_page + RING_OFFSET) + (i % DEPTH); }

static void *device(void *arg) {
    (void)arg;
    uint32_t next = 0;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        /* The doorbell carries the new head; the device works up to it. */
        uint32_t head = atomic_load_explicit(&pg()->doorbell, memory_order_acquire);
        if (head == next) {
            __builtin_ia32_pause();
            continue;
        }
        while (next != head) {
            struct desc *d = slot(next);
            memcpy((void *)(uintptr_t)d->dst, (const void *)(uintptr_t)d->src, d->size);
            atomic_store_explicit(&d->status, DONE, memory_order_release);
            next++;
        }
        atomic_store_explicit(&pg()->tail, next, memory_order_release);
    }
    return NULL;
}

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static unsigned char *src_buf, *dst_buf;
static uint32_t copy_bytes;

static void fill(uint32_t index) {
    struct desc *d = slot(index);
    d->src = (uintptr_t)src_buf;
    d->dst = (uintptr_t)dst_buf;
    d->size = copy_bytes;
    d->cookie = index;
    atomic_store_explicit(&d->status, PENDING, memory_order_relaxed);
}

static void publish(uint32_t head) {
    atomic_store_explicit(&pg()->head, head, memory_order_release);
    atomic_store_explicit(&pg()->doorbell, head, memory_order_release);
}

/* One request at a time: send, ring, wait for its completion. */
static double round_trip(uint32_t *head, long n) {
    double t0 = now_ns();
    for (long i = 0; i < n; i++) {
        fill(*head);
        publish(++*head);
        while (atomic_load_explicit(&pg()->tail, memory_order_acquire) != *head) __builtin_ia32_pause();
        if (atomic_load_explicit(&slot(*head - 1)->status, memory_order_relaxed) != DONE) abort();
    }
    return (now_ns() - t0) / n;
}

/* Keep the ring full, ringing the doorbell once per `batch` requests; returns requests per second. */
static double one_way(uint32_t *head, long n, uint32_t batch) {
    uint32_t done = *head;
    long sent = 0, reaped = 0;
    double t0 = now_ns();
    while (reaped < n) {
        while (sent < n && (*head - done) + batch <= DEPTH) {
            for (uint32_t b = 0; b < batch; b++) fill((*head)++);
            publish(*head);
            sent += batch;
        }
        uint32_t tail = atomic_load_explicit(&pg()->tail, memory_order_acquire);
        while (done != tail) {
            if (atomic_load_explicit(&slot(done)->status, memory_order_relaxed) != DONE) abort();
            done++;
            reaped++;
        }
    }
    return n / ((now_ns() - t0) / 1e9);
}

int main(int argc, char **argv) {
    long rt = argc > 1 ? atol(argv[1]) : 200000;
    long ow = argc > 2 ? atol(argv[2]) : 2000000;
    copy_bytes = argc > 3 ? (uint32_t)atoi(argv[3]) : 64;
    src_buf = aligned_alloc(4096, 4096 > copy_bytes ? 4096 : copy_bytes);
    dst_buf = aligned_alloc(4096, 4096 > copy_bytes ? 4096 : copy_bytes);
    memset(src_buf, 0xa5, copy_bytes);

    pthread_t t;
    pthread_create(&t, NULL, device, NULL);
    uint32_t head = 0;
    round_trip(&head, rt / 10); /* warm up */
    double rt_ns = round_trip(&head, rt);
    double b1 = one_way(&head, ow, 1);
    double b32 = one_way(&head, ow, 32);
    atomic_store(&stop, 1);
    pthread_join(t, NULL);
    if (memcmp(src_buf, dst_buf, copy_bytes) != 0) return 2;
    printf("{\"roundTripNs\":%.1f,\"batch1PerSec\":%.0f,\"batch32PerSec\":%.0f}\n", rt_ns, b1, b32);
    return 0;
}
