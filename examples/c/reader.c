/* Receives COUNT messages from the ring at PATH and checks every byte of each: the C twin of
 * examples/reader.rs, with the same arguments, checks and last line.
 *
 *     reader PATH COUNT [--capacity BYTES]
 *
 * Start it before or after `writer PATH COUNT` (C or Rust). The last line is
 * `received=N bytes=B checksum=HEX`. Exits 1 on any lost, duplicated, reordered or damaged
 * message (or an mmring error), 3 if the writer went away (exited or died) before sending
 * COUNT messages, 2 on bad usage. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mmring.h"
#ifdef __GNUC__
#pragma GCC diagnostic ignored "-Wunused-function" /* stream.h also has the writer's fill */
#endif
#include "stream.h"

static int usage(void) {
    fprintf(stderr, "usage: reader PATH COUNT [--capacity BYTES]\n");
    return 2;
}

static int parse_u64(const char *s, uint64_t *out) {
    char *end;
    if (*s < '0' || *s > '9') return 0;
    *out = strtoull(s, &end, 10);
    return *end == '\0';
}

/* Reports what is wrong with message `seq` as the Rust reader does (StreamError's Display). */
static void report(uint64_t seq, const uint8_t *msg, size_t len, long bad) {
    if (bad == -2) {
        fprintf(stderr, "reader: message of %zu bytes has no sequence number\n", len);
    } else if (bad < 8) {
        uint64_t found = 0;
        for (int b = 0; b < 8; b++) found |= (uint64_t)msg[b] << (8 * b);
        fprintf(stderr, "reader: expected message #%" PRIu64 ", received #%" PRIu64 "\n", seq, found);
    } else {
        fprintf(stderr, "reader: message #%" PRIu64 " differs from what was sent at byte %ld\n", seq,
                bad);
    }
}

int main(int argc, char **argv) {
    uint64_t capacity = UINT64_C(1) << 20, count;
    const char *pos[2];
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--capacity") == 0) {
            if (++i == argc || !parse_u64(argv[i], &capacity)) return usage();
        } else {
            if (npos == 2) return usage();
            pos[npos++] = argv[i];
        }
    }
    if (npos != 2 || !parse_u64(pos[1], &count)) return usage();

    mmring_reader *r = NULL;
    if (mmring_reader_open_or_create(pos[0], capacity, &r) != MMRING_OK) {
        fprintf(stderr, "reader: %s\n", mmring_last_error());
        return 1;
    }
    uint64_t bytes = 0, sum = MMRING_STREAM_CHECKSUM_INIT;
    for (uint64_t seq = 0; seq < count; seq++) {
        /* Zero-copy: the view points into the ring until the next receive. */
        mmring_view v;
        mmring_status st = mmring_reader_recv(r, &v);
        if (st == MMRING_DISCONNECTED) {
            fprintf(stderr, "reader: the writer went away after %" PRIu64 " of %" PRIu64 " messages\n",
                    seq, count);
            printf("received=%" PRIu64 " bytes=%" PRIu64 " checksum=%016" PRIx64 "\n", seq, bytes, sum);
            mmring_reader_close(&r);
            return 3;
        }
        if (st != MMRING_OK) {
            fprintf(stderr, "reader: message #%" PRIu64 ": %s\n", seq, mmring_last_error());
            mmring_reader_close(&r);
            return 1;
        }
        long bad = mmring_stream_check(seq, v.data, v.len);
        if (bad != -1) {
            report(seq, v.data, v.len, bad);
            mmring_reader_close(&r);
            return 1;
        }
        sum = mmring_stream_checksum(sum, v.data, v.len);
        bytes += v.len;
    }
    printf("received=%" PRIu64 " bytes=%" PRIu64 " checksum=%016" PRIx64 "\n", count, bytes, sum);
    mmring_reader_close(&r);
    return 0;
}
