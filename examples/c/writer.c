/* Sends COUNT sequence-numbered messages of pseudo-random sizes into the ring at PATH: the C
 * twin of examples/writer.rs, with the same arguments, stream and last line.
 *
 *     writer PATH COUNT [--size MIN..MAX] [--capacity BYTES]
 *
 * Start `reader PATH COUNT` (C or Rust) before or after this one. The last line is
 * `sent=N bytes=B checksum=HEX`; the reader prints the same checksum for the same stream.
 * PATH is created if missing. Exit status: 0, 1 on an mmring error, 2 on bad usage. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mmring.h"
#ifdef __GNUC__
#pragma GCC diagnostic ignored "-Wunused-function" /* stream.h also has the reader's check */
#endif
#include "stream.h"

static int usage(void) {
    fprintf(stderr, "usage: writer PATH COUNT [--size MIN..MAX] [--capacity BYTES]   (MIN >= 8)\n");
    return 2;
}

/* A whole decimal number, or 0 on anything else. */
static int parse_u64(const char *s, uint64_t *out) {
    char *end;
    if (*s < '0' || *s > '9') return 0;
    *out = strtoull(s, &end, 10);
    return *end == '\0';
}

/* "MIN..MAX" or "MIN..=MAX", MIN >= 8, MIN <= MAX. */
static int parse_range(const char *s, size_t *min, size_t *max) {
    const char *dots = strstr(s, "..");
    char a[32];
    uint64_t lo, hi;
    if (dots == NULL || (size_t)(dots - s) >= sizeof a) return 0;
    memcpy(a, s, (size_t)(dots - s));
    a[dots - s] = '\0';
    const char *b = dots + 2;
    while (*b == '=') b++;
    if (!parse_u64(a, &lo) || !parse_u64(b, &hi) || lo < 8 || lo > hi || hi > SIZE_MAX) return 0;
    *min = (size_t)lo;
    *max = (size_t)hi;
    return 1;
}

int main(int argc, char **argv) {
    size_t min = 8, max = 256;
    uint64_t capacity = UINT64_C(1) << 20, count;
    const char *pos[2];
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--size") == 0) {
            if (++i == argc || !parse_range(argv[i], &min, &max)) return usage();
        } else if (strcmp(argv[i], "--capacity") == 0) {
            if (++i == argc || !parse_u64(argv[i], &capacity)) return usage();
        } else {
            if (npos == 2) return usage();
            pos[npos++] = argv[i];
        }
    }
    if (npos != 2 || !parse_u64(pos[1], &count)) return usage();

    mmring_writer *w = NULL;
    if (mmring_writer_open_or_create(pos[0], capacity, &w) != MMRING_OK) {
        fprintf(stderr, "writer: %s\n", mmring_last_error());
        return 1;
    }
    size_t max_len = 0;
    mmring_writer_max_message_len(w, &max_len);
    if (max > max_len) {
        fprintf(stderr, "writer: --size max %zu exceeds the ring's maximum message of %zu bytes\n",
                max, max_len);
        mmring_writer_close(&w);
        return 2;
    }
    uint64_t bytes = 0, sum = MMRING_STREAM_CHECKSUM_INIT;
    for (uint64_t seq = 0; seq < count; seq++) {
        size_t len = mmring_stream_size_for(seq, min, max);
        /* Zero-copy: the message is generated straight into the ring. */
        mmring_grant g;
        if (mmring_writer_reserve(w, len, &g) != MMRING_OK) {
            fprintf(stderr, "writer: message #%" PRIu64 ": %s\n", seq, mmring_last_error());
            mmring_writer_close(&w);
            return 1;
        }
        mmring_stream_fill(seq, g.data, len);
        sum = mmring_stream_checksum(sum, g.data, len);
        if (mmring_writer_commit(w, &g, len) != MMRING_OK) {
            fprintf(stderr, "writer: message #%" PRIu64 ": %s\n", seq, mmring_last_error());
            mmring_writer_close(&w);
            return 1;
        }
        bytes += len;
    }
    printf("sent=%" PRIu64 " bytes=%" PRIu64 " checksum=%016" PRIx64 "\n", count, bytes, sum);
    mmring_writer_close(&w);
    return 0;
}
