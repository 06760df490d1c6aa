/*
 * Width-exact volatile MMIO access for warpdrive (loaded with bun:ffi dlopen).
 *
 * Why C: a JS load from a typed array may be hoisted out of a polling loop by the JIT, and Atomics
 * would turn a load into a locked read-modify-write on the device (measured: Atomics.load compiles
 * to a locked RMW, Atomics.store to xchg).
 * An FFI call into these functions is opaque to the JIT, and `volatile` makes the compiler emit
 * exactly one access of exactly the given width. Built by runtime/src/mem/native.ts with `cc -O2`.
 */
#include <stdint.h>

#define WD_EXPORT __attribute__((visibility("default")))

WD_EXPORT uint32_t wd_rd8(const volatile void *a) { return *(const volatile uint8_t *)a; }
WD_EXPORT uint32_t wd_rd16(const volatile void *a) { return *(const volatile uint16_t *)a; }
WD_EXPORT uint32_t wd_rd32(const volatile void *a) { return *(const volatile uint32_t *)a; }
WD_EXPORT uint64_t wd_rd64(const volatile void *a) { return *(const volatile uint64_t *)a; }

WD_EXPORT void wd_wr8(volatile void *a, uint32_t v) { *(volatile uint8_t *)a = (uint8_t)v; }
WD_EXPORT void wd_wr16(volatile void *a, uint32_t v) { *(volatile uint16_t *)a = (uint16_t)v; }
WD_EXPORT void wd_wr32(volatile void *a, uint32_t v) { *(volatile uint32_t *)a = v; }
/* One 64-bit store: two 32-bit halves would let the device see a torn value. */
WD_EXPORT void wd_wr64(volatile void *a, uint64_t v) { *(volatile uint64_t *)a = v; }

/*
 * The ordering a doorbell needs: every earlier store to ring entries (ordinary write-back memory the
 * device reads by DMA) is visible to the device before the store to the doorbell register (an
 * uncached MMIO mapping). The cheapest barrier that gives exactly that, per architecture:
 * - x86-64: none in hardware. Stores are not reordered with other stores (TSO), and a store to UC
 *   memory is not passed by earlier write-back stores; ring entries are written with ordinary
 *   stores, never non-temporal ones, so `sfence` would order nothing more. The compiler must not
 *   move stores across the doorbell: an empty asm with a "memory" clobber (Linux's writel on x86 is
 *   the same plain mov). The FFI call itself is also opaque to the JIT.
 * - arm64: stores may be reordered, and device memory is a different observer: `dmb oshst` orders
 *   earlier stores before later ones for the outer-shareable domain that DMA masters are in (what
 *   Linux's writel does with __iowmb / dma_wmb); `dsb st` would also wait for completion, which the
 *   doorbell does not need.
 */
static inline void wd_wmb(void) {
#if defined(__x86_64__) || defined(__i386__)
  __asm__ __volatile__("" ::: "memory");
#elif defined(__aarch64__)
  __asm__ __volatile__("dmb oshst" ::: "memory");
#else
  __sync_synchronize();
#endif
}

WD_EXPORT void wd_wmb_export(void) { wd_wmb(); }

/* The doorbell: fence, then one 32-bit store (SPDK's `wmb; mmio_write(sq_tdbl, tail)`). */
WD_EXPORT void wd_db32(volatile void *a, uint32_t v) {
  wd_wmb();
  *(volatile uint32_t *)a = v;
}

/*
 * Portal stores: one 64-byte descriptor in one write (work-queue portals of DSA/IAA-style engines
 * accept only that; a descriptor split over several stores is dropped or misread by the device).
 * - MOVDIR64B (dedicated queues): a 64-byte direct store, never split, not ordered against earlier
 *   write-back stores by itself, hence the fence first (the descriptor's buffers and the completion
 *   record's pending status must be visible before the device can act on it).
 * - ENQCMD (shared queues): the same 64-byte store as a non-posted request; the CPU puts its PASID
 *   into the descriptor and the device answers accepted or retry (ZF). It faults unless the kernel
 *   has assigned this process a PASID, which only the device's own kernel driver does.
 * Both are emitted as bytes (the encodings from the Intel SDM, destination address in rax, source in
 * rdx) so that an assembler without the mnemonics still builds this file. CPUID leaf 7 subleaf 0,
 * ECX bit 28 (MOVDIR64B) and bit 29 (ENQCMD), says whether the CPU has them; the runtime asks once
 * at load time and never issues an instruction the CPU lacks.
 */
#if defined(__x86_64__)
#include <cpuid.h>
static uint32_t wd_cpuid7_ecx(void) {
  unsigned a, b, c, d;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
  return c;
}
WD_EXPORT uint32_t wd_cpu_movdir64b(void) { return (wd_cpuid7_ecx() >> 28) & 1; }
WD_EXPORT uint32_t wd_cpu_enqcmd(void) { return (wd_cpuid7_ecx() >> 29) & 1; }
WD_EXPORT void wd_movdir64b(volatile void *dst, const void *src) {
  __asm__ __volatile__("sfence" ::: "memory");
  __asm__ __volatile__(".byte 0x66, 0x0f, 0x38, 0xf8, 0x02" : : "a"(dst), "d"(src) : "memory");
}
/* 0: accepted; 1: the device asked to retry (queue full). */
WD_EXPORT uint32_t wd_enqcmd(volatile void *dst, const void *src) {
  uint8_t retry;
  __asm__ __volatile__("sfence" ::: "memory");
  __asm__ __volatile__(".byte 0xf2, 0x0f, 0x38, 0xf8, 0x02\n\tsetz %0" : "=r"(retry) : "a"(dst), "d"(src) : "memory", "cc");
  return retry;
}
#else
WD_EXPORT uint32_t wd_cpu_movdir64b(void) { return 0; }
WD_EXPORT uint32_t wd_cpu_enqcmd(void) { return 0; }
WD_EXPORT void wd_movdir64b(volatile void *dst, const void *src) { (void)dst; (void)src; __builtin_trap(); }
WD_EXPORT uint32_t wd_enqcmd(volatile void *dst, const void *src) { (void)dst; (void)src; __builtin_trap(); return 1; }
#endif

/*
 * Mappings a kernel driver can take away under the process: when a UACCE parent driver goes away
 * with a queue open, the core first zaps the queue's MMIO and DUS mappings, and the next load or
 * store there is SIGBUS, before the runtime can notice anything (poll() does not report removal).
 * A guarded range (wd_guard_add) that faults is replaced in place by zeroed anonymous memory
 * (mmap MAP_FIXED, a plain system call, safe in a handler) and marked hit; the access is retried and
 * reads zeros, and the runtime turns the mark into a typed error at its next check. A SIGBUS outside
 * every guarded range goes to the handler that was there before, or gets the default action.
 * Ranges are added and removed by the thread that owns the queue; the handler only reads them.
 */
#include <signal.h>
#include <string.h>
#include <sys/mman.h>

#define WD_GUARDS 64
static struct {
  volatile uintptr_t start; /* 0: free slot */
  volatile uintptr_t end;
  volatile uint32_t hit;
} wd_guards[WD_GUARDS];
static struct sigaction wd_prev_bus;
static int wd_guard_installed;

static void wd_on_sigbus(int sig, siginfo_t *si, void *uc) {
  uintptr_t a = (uintptr_t)si->si_addr;
  for (int i = 0; i < WD_GUARDS; i++) {
    uintptr_t s = wd_guards[i].start, e = wd_guards[i].end;
    if (s != 0 && a >= s && a < e) {
      void *p = mmap((void *)s, e - s, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
      if (p != MAP_FAILED) {
        wd_guards[i].hit = 1;
        return;
      }
      break;
    }
  }
  if (wd_prev_bus.sa_flags & SA_SIGINFO) {
    if (wd_prev_bus.sa_sigaction != NULL) {
      wd_prev_bus.sa_sigaction(sig, si, uc);
      return;
    }
  } else if (wd_prev_bus.sa_handler != SIG_DFL && wd_prev_bus.sa_handler != SIG_IGN) {
    wd_prev_bus.sa_handler(sig);
    return;
  }
  /* nobody's: the default action (the process dies) when the access is retried */
  signal(SIGBUS, SIG_DFL);
}

/* Guards [p, p + len); returns the slot, or -1 when the handler cannot be installed or all are taken. */
WD_EXPORT int32_t wd_guard_add(void *p, uint64_t len) {
  if (!wd_guard_installed) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = wd_on_sigbus;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGBUS, &sa, &wd_prev_bus) != 0) return -1;
    wd_guard_installed = 1;
  }
  for (int i = 0; i < WD_GUARDS; i++) {
    if (wd_guards[i].start == 0) {
      wd_guards[i].hit = 0;
      wd_guards[i].end = (uintptr_t)p + len;
      __atomic_store_n(&wd_guards[i].start, (uintptr_t)p, __ATOMIC_RELEASE);
      return i;
    }
  }
  return -1;
}

/* Whether slot i's range faulted (and is zeroed anonymous memory now). */
WD_EXPORT uint32_t wd_guard_hit(int32_t i) { return i >= 0 && i < WD_GUARDS ? wd_guards[i].hit : 0; }

WD_EXPORT void wd_guard_remove(int32_t i) {
  if (i < 0 || i >= WD_GUARDS) return;
  __atomic_store_n(&wd_guards[i].start, 0, __ATOMIC_RELEASE);
  wd_guards[i].end = 0;
  wd_guards[i].hit = 0;
}

/* Version of this ABI; bump when a signature changes so stale cached builds are not used. */
WD_EXPORT uint32_t wd_mmio_abi(void) { return 4; }
