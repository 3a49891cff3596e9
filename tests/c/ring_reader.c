/* A reader of the mmring format written from docs/FORMAT.md alone; the code between the
 * BEGIN/END markers is the section 11 sample, verbatim (tests/c_reader.rs checks that).
 * Usage: ring_reader PATH FIRST COUNT
 * Claims reader slot 0 (section 9), receives COUNT messages that each start with their sequence
 * number (u64 LE, from FIRST), prints "received=N bytes=B seqsum=S" and exits 0. Exits 1 on a
 * usage, header or sequence error, 2 if the ring is empty before COUNT messages, 3 if a record
 * is corrupt (printing "corrupt after N messages"). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
/* BEGIN section 11 */
#include <limits.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
/* base = mmap(NULL, len, PROT_READ|PROT_WRITE, MAP_SHARED, fd, 0) after the checks of section 1 */
/* slot 0; wbell: the writer's doorbell, "<ring path>.w.bell" (section 8) */
typedef struct { uint64_t cap, r, released; uint8_t *base, *data; const char *wbell; } ring;
#define A64(p) ((_Atomic uint64_t *)(p))
#define A32(p) ((_Atomic uint32_t *)(p))

static uint64_t word_for(uint64_t pos, uint32_t key) {
    return ((uint64_t)((uint32_t)(pos >> 3) ^ key) << 32) | 0x80000000u;
}
#define MSG(p) word_for(p, 0x47534D32u)
#define PAD(p) word_for(p, 0x44415032u)

/* Gives consumed space back (section 7), then wakes a writer waiting for room, on its futex
   or its doorbell (section 8). */
static void ring_release(ring *g) {
    atomic_store_explicit(A64(g->base + 1024), g->r, memory_order_release);
    g->released = g->r;
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(A32(g->base + 256), memory_order_relaxed)) {
        atomic_fetch_add_explicit(A32(g->base + 260), 1, memory_order_release);
        syscall(SYS_futex, g->base + 260, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
    }
    if (atomic_load_explicit(A32(g->base + 264), memory_order_relaxed)) {
        int fd = open(g->wbell, O_RDWR | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (fd >= 0 && fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode) && write(fd, "\x01", 1) < 0) {
            /* EAGAIN: rung already; anything else: the writer also wakes for its next check */
        }
        if (fd >= 0) close(fd);
    }
}

/* Returns the payload length, -1 if nothing is committed, -2 if corrupt. Copies up to `max`
   bytes to `out`. */
long ring_recv(ring *g, void *out, size_t max) {
    for (;;) {
        uint64_t off = g->r & (g->cap - 1);
        uint64_t w = atomic_load_explicit(A64(g->data + off), memory_order_acquire);
        uint64_t len = w ^ MSG(g->r), pad = w ^ PAD(g->r), prev = g->r - g->cap;
        if (len < 0x80000000u) {                                  /* a message */
            uint64_t total = 8 + ((len + 7) & ~7ull);
            if (len > g->cap / 2 - 8 || total > g->cap - off) return -2;
            memcpy(out, g->data + off + 8, len < max ? len : max);
            g->r += total;
            if (g->r - g->released >= g->cap / 8 ||
                atomic_load_explicit(A32(g->base + 256), memory_order_relaxed) ||
                atomic_load_explicit(A32(g->base + 264), memory_order_relaxed))
                ring_release(g);
            return (long)len;
        }
        if (pad < 0x80000000u) {                                  /* padding */
            if (pad + 8 != g->cap - off || g->cap - off >= g->cap / 2) return -2;
            g->r += g->cap - off;
            continue;
        }
        if (w == 0 || (w ^ MSG(prev)) < 0x80000000u || (w ^ PAD(prev)) < 0x80000000u) {
            if (g->r != g->released) ring_release(g);             /* empty: give back */
            return -1;
        }
        return -2;                                                /* corrupt */
    }
}
/* END section 11 */

static int claim_slot0(int fd, uint8_t *base) {
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 1024 + 8, .l_len = 1, .l_pid = 0 };
    if (fcntl(fd, F_OFD_SETLK, &fl) != 0) return -1;
    uint8_t *slot = base + 1024;
    atomic_fetch_and_explicit(A64(base + 384), ~1ull, memory_order_relaxed);
    atomic_store_explicit(A32(slot + 20), 1, memory_order_relaxed);
    atomic_store_explicit(A32(slot + 8), (uint32_t)getpid(), memory_order_relaxed);
    atomic_store_explicit(A32(slot + 16), 1, memory_order_release);
    atomic_fetch_add_explicit(A32(slot + 12), 1, memory_order_release);
    return 0;
}

static void detach_slot0(ring *g) {
    ring_release(g); /* gives back what is left and wakes a waiting writer, futex or doorbell */
    atomic_store_explicit(A32(g->base + 1024 + 16), 2, memory_order_release);
    atomic_fetch_add_explicit(A32(g->base + 260), 1, memory_order_release);
    syscall(SYS_futex, g->base + 260, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: ring_reader PATH FIRST COUNT\n"); return 1; }
    long first = atol(argv[2]), count = atol(argv[3]);
    int fd = open(argv[1], O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) { perror("open"); return 1; }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 1024) { fprintf(stderr, "not a ring file\n"); return 1; }
    uint8_t *base = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) { perror("mmap"); return 1; }
    uint32_t ready = atomic_load_explicit(A32(base + 24), memory_order_acquire);
    uint64_t magic = atomic_load_explicit(A64(base), memory_order_relaxed);
    uint32_t version = atomic_load_explicit(A32(base + 8), memory_order_relaxed);
    uint32_t data_offset = atomic_load_explicit(A32(base + 12), memory_order_relaxed);
    uint64_t cap = atomic_load_explicit(A64(base + 16), memory_order_relaxed);
    uint32_t slots = atomic_load_explicit(A32(base + 36), memory_order_relaxed);
    if (ready != 0x59445852u || magic != 0x0A0D474E49524D4Dull || version != 2 ||
        data_offset < 4096 || data_offset % 4096 || data_offset > (1u << 20) ||
        slots < 1 || slots > 64 || 1024 + 128ull * slots > data_offset ||
        cap < 64 || cap > (1ull << 32) || (cap & (cap - 1)) ||
        (uint64_t)st.st_size != data_offset + cap) {
        fprintf(stderr, "bad header\n"); return 1;
    }
    if (claim_slot0(fd, base) != 0) { fprintf(stderr, "reader slot 0 is taken\n"); return 1; }
    uint64_t start = atomic_load_explicit(A64(base + 1024), memory_order_acquire);
    if (start % 8 || start >= (1ull << 63)) { fprintf(stderr, "corrupt after 0 messages\n"); return 3; }
    static char wbell[4096];
    snprintf(wbell, sizeof wbell, "%s.w.bell", argv[1]);
    ring g = { cap, start, start, base, base + data_offset, wbell };
    static uint8_t buf[1 << 20];
    unsigned long long bytes = 0, seqsum = 0;
    for (long i = 0; i < count; i++) {
        long n = ring_recv(&g, buf, sizeof buf);
        if (n == -1) { fprintf(stderr, "empty after %ld messages\n", i); detach_slot0(&g); return 2; }
        if (n == -2) { fprintf(stderr, "corrupt after %ld messages\n", i); return 3; }
        if (n < 8) { fprintf(stderr, "short message (%ld bytes)\n", n); return 1; }
        uint64_t seq; memcpy(&seq, buf, 8);
        if (seq != (uint64_t)(first + i)) { fprintf(stderr, "expected #%ld got #%llu\n", first + i, (unsigned long long)seq); return 1; }
        bytes += (unsigned long long)n; seqsum += seq;
    }
    detach_slot0(&g);
    printf("received=%ld bytes=%llu seqsum=%llu\n", count, bytes, seqsum);
    return 0;
}
