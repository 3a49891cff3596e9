/* A reader of the mmring format written from docs/FORMAT.md alone (sections 1, 3, 4, 8).
 * Usage: ring_reader PATH FIRST COUNT — prints "received=N bytes=B seqsum=S" and exits 0,
 * or prints an error and exits 1. Each message must start with its sequence number (u64 LE). */
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct { uint64_t cap, r; uint8_t *base, *data; } ring;

long ring_recv(ring *g, void *out, size_t max) {
    _Atomic uint64_t *wp = (_Atomic uint64_t *)(g->base + 128);
    _Atomic uint64_t *rp = (_Atomic uint64_t *)(g->base + 256);
    for (;;) {
        uint64_t w = atomic_load_explicit(wp, memory_order_acquire);
        if (w % 8 || w < g->r || w - g->r > g->cap) return -2;
        if (g->r == w) return -1;
        uint64_t off = g->r & (g->cap - 1), hdr;
        memcpy(&hdr, g->data + off, 8);
        uint32_t len = (uint32_t)hdr, tag = (uint32_t)(hdr >> 32);
        if (tag == 0x44415002u) {
            if (len + 8 != g->cap - off || g->cap - off > w - g->r) return -2;
            g->r += g->cap - off;
            continue;
        }
        uint64_t total = 8 + ((len + 7) & ~7ull);
        if (tag != 0x47534D01u || len > g->cap / 2 - 8 || total > w - g->r) return -2;
        memcpy(out, g->data + off + 8, len < max ? len : max);
        g->r += total;
        atomic_store_explicit(rp, g->r, memory_order_release);
        return len;
    }
}

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: ring_reader PATH FIRST COUNT\n"); return 2; }
    long first = atol(argv[2]), count = atol(argv[3]);
    int fd = open(argv[1], O_RDWR | O_NOFOLLOW);
    if (fd < 0) { perror("open"); return 1; }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 1024) { fprintf(stderr, "not a ring file\n"); return 1; }
    uint8_t *base = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) { perror("mmap"); return 1; }
    uint32_t ready = atomic_load_explicit((_Atomic uint32_t *)(base + 24), memory_order_acquire);
    uint64_t magic, cap; uint32_t version, header_len;
    memcpy(&magic, base, 8); memcpy(&version, base + 8, 4); memcpy(&header_len, base + 12, 4); memcpy(&cap, base + 16, 8);
    if (ready != 0x59445852u || magic != 0x0A0D474E49524D4Dull || version != 1 || header_len % 4096 ||
        cap < 64 || (cap & (cap - 1)) || (uint64_t)st.st_size != header_len + cap) {
        fprintf(stderr, "bad header\n"); return 1;
    }
    ring g = { cap, atomic_load_explicit((_Atomic uint64_t *)(base + 256), memory_order_acquire), base, base + header_len };
    static uint8_t buf[1 << 20];
    unsigned long long bytes = 0, seqsum = 0;
    for (long i = 0; i < count; i++) {
        long n = ring_recv(&g, buf, sizeof buf);
        if (n == -1) { fprintf(stderr, "empty after %ld messages\n", i); return 1; }
        if (n < 8) { fprintf(stderr, "corrupt or short message (%ld)\n", n); return 1; }
        uint64_t seq; memcpy(&seq, buf, 8);
        if (seq != (uint64_t)(first + i)) { fprintf(stderr, "expected #%ld got #%llu\n", first + i, (unsigned long long)seq); return 1; }
        bytes += n; seqsum += seq;
    }
    printf("received=%ld bytes=%llu seqsum=%llu\n", count, bytes, seqsum);
    return 0;
}
