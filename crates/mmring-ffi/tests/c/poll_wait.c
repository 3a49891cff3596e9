/* One side of a ring that waits in poll(2) on its readiness handle, never in a blocking call:
 *
 *     poll_wait reader RING [--untethered] [--count N]
 *     poll_wait writer RING COUNT
 *
 * The reader receives with mmring_reader_try_recv_copy; when the ring is empty it arms its
 * handle (mmring_reader_prepare_wait), prints "waiting" and sleeps in poll(2) until the fd is
 * readable (at most 10 s: longer is a failure), then disarms it (mmring_reader_finish_wait)
 * and receives again. Message number i is "msg i" padded with dots to 8 + i % 200 bytes; each
 * is checked. It stops after N messages, or when the writer has gone, and prints
 * "received=N wakeups=W laps=L" (and " disconnected"). An untethered reader accepts a gap
 * after MMRING_LAPPED.
 *
 * The writer sends COUNT such messages with mmring_writer_try_send, waiting in poll(2) for
 * room when the ring is full, and prints "sent=N waits=W".
 *
 * Built by tests/fanout.rs, plain and under AddressSanitizer + UndefinedBehaviorSanitizer. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mmring.h"

static size_t message(uint64_t seq, char *m) {
    size_t len = 8 + seq % 200;
    int n = snprintf(m, 256, "msg %" PRIu64, seq);
    if ((size_t)n > len) len = (size_t)n;
    memset(m + n, '.', len - (size_t)n);
    return len;
}

static int fail(const char *what) {
    fprintf(stderr, "poll_wait: %s: %s\n", what, mmring_last_error());
    return 1;
}

/* Sleeps until `fd` is readable; 0 on success. */
static int sleep_on(int fd) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int n = poll(&p, 1, 10000);
    if (n != 1) {
        fprintf(stderr, "poll_wait: poll returned %d (not woken within 10 s)\n", n);
        return 1;
    }
    return 0;
}

static int reader(const char *path, int untethered, long count) {
    mmring_options o;
    mmring_options_init(&o);
    o.reader_kind = untethered ? MMRING_READER_UNTETHERED : MMRING_READER_TETHERED;
    o.start = MMRING_START_OLDEST;
    mmring_reader *r = NULL;
    if (mmring_reader_open(path, &o, &r) != MMRING_OK) return fail("open");
    int fd = -1;
    if (mmring_reader_readiness_fd(r, &fd) != MMRING_OK) return fail("readiness_fd");
    long received = 0, wakeups = 0, laps = 0;
    uint64_t expected = 0;
    int gone = 0, rc = 0;
    char buf[256], want[256];
    while (count < 0 || received < count) {
        size_t n = 0;
        mmring_status st = mmring_reader_try_recv_copy(r, buf, sizeof buf, &n);
        if (st == MMRING_OK) {
            uint64_t seq = strtoull(buf + 4, NULL, 10);
            size_t len = message(seq, want);
            if (n != len || memcmp(buf, want, len) != 0 || seq < expected ||
                (seq != expected && !untethered)) {
                fprintf(stderr, "poll_wait: expected message #%" PRIu64 ", received %.*s\n",
                        expected, (int)n, buf);
                rc = 1;
                break;
            }
            expected = seq + 1;
            received++;
        } else if (st == MMRING_EMPTY) {
            bool ready = false;
            if (mmring_reader_prepare_wait(r, &ready) != MMRING_OK) return fail("prepare_wait");
            if (!ready) {
                printf("waiting\n");
                fflush(stdout);
                if (sleep_on(fd) != 0) {
                    rc = 1;
                    break;
                }
                wakeups++;
            }
            if (mmring_reader_finish_wait(r) != MMRING_OK) return fail("finish_wait");
        } else if (st == MMRING_DISCONNECTED) {
            gone = 1;
            break;
        } else if (st == MMRING_LAPPED && untethered) {
            laps++;
        } else {
            rc = fail(mmring_status_name(st));
            break;
        }
    }
    printf("received=%ld wakeups=%ld laps=%ld%s\n", received, wakeups, laps,
           gone ? " disconnected" : "");
    mmring_reader_close(&r);
    return rc;
}

static int writer(const char *path, uint64_t count) {
    mmring_writer *w = NULL;
    if (mmring_writer_open(path, NULL, &w) != MMRING_OK) return fail("open");
    int fd = -1;
    if (mmring_writer_readiness_fd(w, &fd) != MMRING_OK) return fail("readiness_fd");
    long waits = 0;
    char m[256];
    int rc = 0;
    uint64_t seq = 0;
    for (; seq < count && rc == 0; seq++) {
        size_t len = message(seq, m);
        for (;;) {
            mmring_status st = mmring_writer_try_send(w, m, len);
            if (st == MMRING_OK) break;
            if (st != MMRING_FULL) {
                rc = fail(mmring_status_name(st));
                break;
            }
            bool ready = false;
            if (mmring_writer_prepare_wait(w, len, &ready) != MMRING_OK)
                return fail("prepare_wait");
            if (!ready) {
                if (sleep_on(fd) != 0) {
                    rc = 1;
                    break;
                }
                waits++;
            }
            if (mmring_writer_finish_wait(w) != MMRING_OK) return fail("finish_wait");
        }
    }
    printf("sent=%" PRIu64 " waits=%ld\n", rc == 0 ? seq : seq - 1, waits);
    mmring_writer_close(&w);
    return rc;
}

int main(int argc, char **argv) {
    if (argc >= 3 && strcmp(argv[1], "reader") == 0) {
        int untethered = 0;
        long count = -1;
        for (int i = 3; i < argc; i++) {
            if (strcmp(argv[i], "--untethered") == 0) {
                untethered = 1;
            } else if (strcmp(argv[i], "--count") == 0 && i + 1 < argc) {
                count = strtol(argv[++i], NULL, 10);
            } else {
                fprintf(stderr, "poll_wait: unknown argument %s\n", argv[i]);
                return 2;
            }
        }
        return reader(argv[2], untethered, count);
    }
    if (argc == 4 && strcmp(argv[1], "writer") == 0)
        return writer(argv[2], strtoull(argv[3], NULL, 10));
    fprintf(stderr, "usage: poll_wait reader RING [--untethered] [--count N]\n"
                    "       poll_wait writer RING COUNT\n");
    return 2;
}
