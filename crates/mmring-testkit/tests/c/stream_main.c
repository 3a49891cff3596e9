/* Drives the C code of the stream specification (src/stream.md, included as "stream.h").
 * Usage: stream_main COUNT MIN MAX — generates messages 0..COUNT with lengths MIN..=MAX,
 * checks each (and that a flipped last byte is found), prints "bytes=B checksum=HEX". */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "stream.h"

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: stream_main COUNT MIN MAX\n");
        return 2;
    }
    uint64_t count = strtoull(argv[1], NULL, 10);
    size_t min = strtoull(argv[2], NULL, 10), max = strtoull(argv[3], NULL, 10);
    uint8_t *buf = malloc(max);
    if (buf == NULL || min < 8 || min > max) return 2;
    uint64_t h = MMRING_STREAM_CHECKSUM_INIT, bytes = 0;
    for (uint64_t seq = 0; seq < count; seq++) {
        size_t len = mmring_stream_size_for(seq, min, max);
        mmring_stream_fill(seq, buf, len);
        long bad = mmring_stream_check(seq, buf, len);
        buf[len - 1] ^= 1;
        long flipped = mmring_stream_check(seq, buf, len);
        buf[len - 1] ^= 1;
        if (bad != -1 || flipped != (long)(len - 1)) {
            fprintf(stderr, "message %" PRIu64 ": check %ld, flipped %ld\n", seq, bad, flipped);
            return 1;
        }
        h = mmring_stream_checksum(h, buf, len);
        bytes += len;
    }
    printf("bytes=%" PRIu64 " checksum=%016" PRIx64 "\n", bytes, h);
    free(buf);
    return 0;
}
