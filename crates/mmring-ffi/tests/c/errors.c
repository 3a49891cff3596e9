/* Every error path of the C API, exercised from C: null and closed handles, handles of the
 * wrong kind, null pointers, bad options, wrong sizes, too-small buffers, grants, batches and
 * views in the wrong state, a handle used by two threads at once, a re-entrant callback, files
 * that are not rings, a corrupt ring (at open and while receiving), a foreign owner, and the
 * non-error outcomes (EMPTY, FULL, TIMEOUT, DISCONNECTED).
 *
 * Usage: errors DIR (an empty directory for the ring files). Prints one line per failed check
 * and ends with "N passed, M failed"; exits 0 only if none failed. Built by tests/c_api.rs,
 * plain and under AddressSanitizer + UndefinedBehaviorSanitizer. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mmring.h"

static int passed, failed;
static char dir[4096];

#define CHECK(cond)                                                                        \
    do {                                                                                   \
        if (cond) {                                                                        \
            passed++;                                                                      \
        } else {                                                                           \
            failed++;                                                                      \
            fprintf(stderr, "%s:%d: check failed: %s (last error: %s)\n", __FILE__,        \
                    __LINE__, #cond, mmring_last_error());                                 \
        }                                                                                  \
    } while (0)

/* A call that must return `want`, with a message that is not empty unless it is MMRING_OK. */
#define EXPECT(want, call)                                                                 \
    do {                                                                                   \
        mmring_status got_ = (call);                                                       \
        if (got_ == (want) && (got_ == MMRING_OK || mmring_last_error()[0] != '\0')) {     \
            passed++;                                                                      \
        } else {                                                                           \
            failed++;                                                                      \
            fprintf(stderr, "%s:%d: %s returned %s, expected %s (last error: %s)\n",       \
                    __FILE__, __LINE__, #call, mmring_status_name(got_),                   \
                    mmring_status_name(want), mmring_last_error());                        \
        }                                                                                  \
    } while (0)

static const char *path_of(const char *name) {
    static char buf[8][4200];
    static int next;
    char *p = buf[next++ % 8];
    snprintf(p, sizeof buf[0], "%s/%s", dir, name);
    return p;
}

static void write_file(const char *path, const void *data, size_t len) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    if (fd < 0) return;
    CHECK(write(fd, data, len) == (ssize_t)len);
    close(fd);
}

static void pwrite_u32(const char *path, off_t off, uint32_t v) {
    int fd = open(path, O_WRONLY);
    CHECK(fd >= 0);
    if (fd < 0) return;
    CHECK(pwrite(fd, &v, sizeof v, off) == (ssize_t)sizeof v);
    close(fd);
}

static void pwrite_u64(const char *path, off_t off, uint64_t v) {
    int fd = open(path, O_WRONLY);
    CHECK(fd >= 0);
    if (fd < 0) return;
    CHECK(pwrite(fd, &v, sizeof v, off) == (ssize_t)sizeof v);
    close(fd);
}

static void test_statics(void) {
    CHECK(mmring_abi_version() == MMRING_ABI_VERSION);
    CHECK(mmring_last_error() != NULL);
    CHECK(strcmp(mmring_status_name(MMRING_OK), "MMRING_OK") == 0);
    CHECK(strcmp(mmring_status_name(MMRING_BUFFER_TOO_SMALL), "MMRING_BUFFER_TOO_SMALL") == 0);
    CHECK(strcmp(mmring_status_name(MMRING_CORRUPT), "MMRING_CORRUPT") == 0);
    CHECK(strcmp(mmring_status_name(MMRING_LAPPED), "MMRING_LAPPED") == 0);
    CHECK(strcmp(mmring_status_name(MMRING_UNSUPPORTED), "MMRING_UNSUPPORTED") == 0);
    CHECK(strcmp(mmring_status_name(MMRING_READERS_FULL), "MMRING_READERS_FULL") == 0);
    /* The values are stable, in their documented groups. */
    CHECK(MMRING_LAPPED == 5 && MMRING_UNSUPPORTED == 16 && MMRING_READERS_FULL == 29);
    CHECK(strcmp(mmring_status_name(-1), "MMRING_UNKNOWN_STATUS") == 0);
    CHECK(strcmp(mmring_status_name(9999), "MMRING_UNKNOWN_STATUS") == 0);
}

/* Every handle function with a null handle: MMRING_INVALID_HANDLE, nothing written. */
static void test_null_handles(void) {
    uint8_t buf[16];
    size_t n = 7;
    bool alive;
    mmring_grant g;
    mmring_view v;
    mmring_writer_status ws;
    int fd = 7;
    bool ready = true;
    uint64_t lap_bytes = 7, lap_messages = 7;
    EXPECT(MMRING_INVALID_HANDLE, mmring_writer_try_send(NULL, "x", 1));
    EXPECT(MMRING_INVALID_HANDLE, mmring_writer_send(NULL, "x", 1));
    EXPECT(MMRING_INVALID_HANDLE, mmring_writer_send_timeout(NULL, "x", 1, 0));
    EXPECT(MMRING_INVALID_HANDLE, mmring_writer_try_reserve(NULL, 1, &g));
    EXPECT(MMRING_INVALID_HANDLE, mmring_writer_reserve(NULL, 1, &g));
    EXPECT(MMRING_INVALID_HANDLE, mmring_writer_reserve_timeout(NULL, 1, 0, &g));
    EXPECT(MMRING_INVALID_HANDLE, mmring_writer_commit(NULL, &g, 0));
    EXPECT(MMRING_INVALID_HANDLE, mmring_writer_abort(NULL, &g));
    EXPECT(MMRING_INVALID_HANDLE, mmring_writer_capacity(NULL, &n));
    EXPECT(MMRING_INVALID_HANDLE, mmring_writer_max_message_len(NULL, &n));
    EXPECT(MMRING_INVALID_HANDLE, mmring_writer_set_wait_strategy(NULL, MMRING_WAIT_SPIN));
    EXPECT(MMRING_INVALID_HANDLE, mmring_writer_is_reader_alive(NULL, &alive));
    EXPECT(MMRING_INVALID_HANDLE, mmring_writer_in_flight(NULL, &n));
    EXPECT(MMRING_INVALID_HANDLE, mmring_writer_flush(NULL));
    EXPECT(MMRING_INVALID_HANDLE, mmring_writer_batch_begin(NULL));
    EXPECT(MMRING_INVALID_HANDLE, mmring_writer_batch_send(NULL, "x", 1));
    EXPECT(MMRING_INVALID_HANDLE, mmring_writer_batch_reserve(NULL, 1, &g));
    EXPECT(MMRING_INVALID_HANDLE, mmring_writer_batch_publish(NULL));
    EXPECT(MMRING_INVALID_HANDLE, mmring_writer_batch_end(NULL));
    EXPECT(MMRING_INVALID_HANDLE, mmring_reader_try_recv(NULL, &v));
    EXPECT(MMRING_INVALID_HANDLE, mmring_reader_recv(NULL, &v));
    EXPECT(MMRING_INVALID_HANDLE, mmring_reader_recv_timeout(NULL, 0, &v));
    EXPECT(MMRING_INVALID_HANDLE, mmring_reader_release_view(NULL, &v));
    EXPECT(MMRING_INVALID_HANDLE, mmring_reader_keep_view(NULL, &v));
    EXPECT(MMRING_INVALID_HANDLE, mmring_reader_try_recv_copy(NULL, buf, sizeof buf, &n));
    EXPECT(MMRING_INVALID_HANDLE, mmring_reader_recv_copy(NULL, buf, sizeof buf, &n));
    EXPECT(MMRING_INVALID_HANDLE, mmring_reader_recv_copy_timeout(NULL, buf, sizeof buf, &n, 0));
    EXPECT(MMRING_INVALID_HANDLE, mmring_reader_try_skip(NULL, &n));
    EXPECT(MMRING_INVALID_HANDLE, mmring_reader_release(NULL));
    EXPECT(MMRING_INVALID_HANDLE, mmring_reader_pending(NULL, &n));
    EXPECT(MMRING_INVALID_HANDLE, mmring_reader_capacity(NULL, &n));
    EXPECT(MMRING_INVALID_HANDLE, mmring_reader_max_message_len(NULL, &n));
    EXPECT(MMRING_INVALID_HANDLE, mmring_reader_set_wait_strategy(NULL, MMRING_WAIT_SPIN));
    EXPECT(MMRING_INVALID_HANDLE, mmring_reader_writer_status(NULL, &ws, NULL));
    EXPECT(MMRING_INVALID_HANDLE, mmring_reader_drain(NULL, 1, 0, NULL, NULL, &n));
    CHECK(n == 7);
    /* The fan-out and readiness functions. */
    EXPECT(MMRING_INVALID_HANDLE, mmring_reader_is_untethered(NULL, &alive));
    EXPECT(MMRING_INVALID_HANDLE, mmring_reader_last_lap(NULL, &lap_bytes, &lap_messages));
    EXPECT(MMRING_INVALID_HANDLE, mmring_reader_readiness_fd(NULL, &fd));
    EXPECT(MMRING_INVALID_HANDLE, mmring_reader_prepare_wait(NULL, &ready));
    EXPECT(MMRING_INVALID_HANDLE, mmring_reader_finish_wait(NULL));
    EXPECT(MMRING_INVALID_HANDLE, mmring_writer_readiness_fd(NULL, &fd));
    EXPECT(MMRING_INVALID_HANDLE, mmring_writer_prepare_wait(NULL, 8, &ready));
    EXPECT(MMRING_INVALID_HANDLE, mmring_writer_finish_wait(NULL));
    CHECK(fd == 7 && ready && lap_bytes == 7 && lap_messages == 7);
    /* Closing: a null pointer to the handle is an argument error, a null handle is fine. */
    mmring_writer *w = NULL;
    mmring_reader *r = NULL;
    EXPECT(MMRING_INVALID_ARGUMENT, mmring_writer_close(NULL));
    EXPECT(MMRING_INVALID_ARGUMENT, mmring_reader_close(NULL));
    EXPECT(MMRING_OK, mmring_writer_close(&w));
    EXPECT(MMRING_OK, mmring_reader_close(&r));
}

static void test_open_arguments(void) {
    mmring_writer *w = (mmring_writer *)&w; /* garbage that open must overwrite */
    mmring_reader *r = NULL;
    EXPECT(MMRING_INVALID_ARGUMENT, mmring_writer_open(NULL, NULL, &w));
    CHECK(w == NULL);
    EXPECT(MMRING_INVALID_ARGUMENT, mmring_writer_open("", NULL, &w));
    EXPECT(MMRING_INVALID_ARGUMENT, mmring_writer_open(path_of("x"), NULL, NULL));
    EXPECT(MMRING_INVALID_ARGUMENT, mmring_reader_open(NULL, NULL, &r));
    EXPECT(MMRING_INVALID_ARGUMENT, mmring_reader_create(path_of("x"), 100, &r));
    EXPECT(MMRING_INVALID_ARGUMENT, mmring_writer_create(path_of("x"), 32, &w));
    EXPECT(MMRING_INVALID_ARGUMENT, mmring_writer_create(path_of("x"), UINT64_C(1) << 33, &w));
    EXPECT(MMRING_INVALID_ARGUMENT, mmring_writer_open_or_create(path_of("x"), 0, &w));
    CHECK(w == NULL && r == NULL);
    EXPECT(MMRING_NOT_FOUND, mmring_writer_open(path_of("missing"), NULL, &w));
    EXPECT(MMRING_NOT_FOUND, mmring_reader_open(path_of("missing"), NULL, &r));
    CHECK(strstr(mmring_last_error(), "missing") != NULL);
    EXPECT(MMRING_INVALID_ARGUMENT, (mmring_options_init)(NULL));
    EXPECT(MMRING_INVALID_ARGUMENT, mmring_options_init_sized(NULL, sizeof(mmring_options)));
    mmring_options o;
    EXPECT(MMRING_INVALID_ARGUMENT, mmring_options_init_sized(&o, 47));
    EXPECT(MMRING_INVALID_ARGUMENT, mmring_options_init_sized(&o, 0));
    EXPECT(MMRING_INVALID_ARGUMENT, mmring_options_init_sized(&o, (size_t)1 << 20));
}

static void test_options(void) {
    mmring_options o;
    mmring_writer *w = NULL;
    EXPECT(MMRING_OK, mmring_options_init(&o));
    CHECK(o.struct_size == sizeof o && o.mode == 0600 && o.readers == 1);
    CHECK(o.create == MMRING_OPEN_EXISTING && o.wait_strategy == MMRING_WAIT_PARK);
    CHECK(o.reader_kind == MMRING_READER_TETHERED && o.start == MMRING_START_DEFAULT);
    o.create = MMRING_CREATE;
    o.capacity = 4096;
    mmring_options bad = o;
    bad.struct_size = 8;
    EXPECT(MMRING_INVALID_ARGUMENT, mmring_writer_open(path_of("o"), &bad, &w));
    bad = o;
    bad.struct_size = 0x7fffffff;
    EXPECT(MMRING_INVALID_ARGUMENT, mmring_writer_open(path_of("o"), &bad, &w));
    bad = o;
    bad.create = 7;
    EXPECT(MMRING_INVALID_ARGUMENT, mmring_writer_open(path_of("o"), &bad, &w));
    bad = o;
    bad.wait_strategy = 3;
    EXPECT(MMRING_INVALID_ARGUMENT, mmring_writer_open(path_of("o"), &bad, &w));
    bad = o;
    bad.flags = 0x100;
    EXPECT(MMRING_INVALID_ARGUMENT, mmring_writer_open(path_of("o"), &bad, &w));
    bad = o;
    bad.reserved = 1;
    EXPECT(MMRING_INVALID_ARGUMENT, mmring_writer_open(path_of("o"), &bad, &w));
    bad = o;
    bad.capacity = 1000;
    EXPECT(MMRING_INVALID_ARGUMENT, mmring_writer_open(path_of("o"), &bad, &w));
    bad = o;
    bad.mode = 04755;
    EXPECT(MMRING_INVALID_ARGUMENT, mmring_writer_open(path_of("o"), &bad, &w));
    bad = o;
    bad.readers = 0;
    EXPECT(MMRING_INVALID_ARGUMENT, mmring_writer_open(path_of("o"), &bad, &w));
    bad.readers = MMRING_MAX_READERS + 1;
    EXPECT(MMRING_INVALID_ARGUMENT, mmring_writer_open(path_of("o"), &bad, &w));
    /* Unknown reader kinds and start positions are refused, by writers too. */
    mmring_reader *r0 = NULL;
    bad = o;
    bad.reader_kind = 3;
    EXPECT(MMRING_INVALID_ARGUMENT, mmring_writer_open(path_of("o"), &bad, &w));
    CHECK(strstr(mmring_last_error(), "reader_kind") != NULL);
    EXPECT(MMRING_INVALID_ARGUMENT, mmring_reader_open(path_of("o"), &bad, &r0));
    bad = o;
    bad.start = 4;
    EXPECT(MMRING_INVALID_ARGUMENT, mmring_writer_open(path_of("o"), &bad, &w));
    EXPECT(MMRING_INVALID_ARGUMENT, mmring_reader_open(path_of("o"), &bad, &r0));
    CHECK(strstr(mmring_last_error(), "start") != NULL && r0 == NULL);
    CHECK(w == NULL);
    CHECK(access(path_of("o"), F_OK) != 0); /* nothing was created by the failures */

    /* A struct from a newer header: larger, unknown fields zero: accepted; non-zero: refused. */
    struct {
        mmring_options o;
        uint64_t future;
    } newer;
    memset(&newer, 0, sizeof newer);
    newer.o = o;
    newer.o.struct_size = sizeof newer;
    newer.future = 1;
    EXPECT(MMRING_INVALID_ARGUMENT, mmring_writer_open(path_of("o"), &newer.o, &w));
    newer.future = 0;
    newer.o.mode = 0640;
    EXPECT(MMRING_OK, mmring_writer_open(path_of("o"), &newer.o, &w));
    struct stat st;
    CHECK(stat(path_of("o"), &st) == 0 && (st.st_mode & 0777) == 0640);
    size_t cap = 0;
    EXPECT(MMRING_OK, mmring_writer_capacity(w, &cap));
    CHECK(cap == 4096);
    EXPECT(MMRING_ALREADY_EXISTS, mmring_writer_open(path_of("o"), &o, &(mmring_writer *){NULL}));
    EXPECT(MMRING_OK, mmring_writer_close(&w));

    /* create_unattached: needs options; the ring it makes has never seen a writer. */
    EXPECT(MMRING_INVALID_ARGUMENT, mmring_create_unattached(path_of("u"), NULL));
    EXPECT(MMRING_INVALID_ARGUMENT, mmring_create_unattached(NULL, &o));
    EXPECT(MMRING_OK, mmring_create_unattached(path_of("u"), &o));
    mmring_reader *r = NULL;
    EXPECT(MMRING_OK, mmring_reader_open(path_of("u"), NULL, &r));
    mmring_writer_status ws = 99;
    uint32_t pid = 99;
    EXPECT(MMRING_OK, mmring_reader_writer_status(r, &ws, &pid));
    CHECK(ws == MMRING_WRITER_NEVER && pid == 0);
    EXPECT(MMRING_INVALID_ARGUMENT, mmring_reader_writer_status(r, NULL, &pid));
    EXPECT(MMRING_INVALID_ARGUMENT, mmring_reader_set_wait_strategy(r, 42));
    EXPECT(MMRING_OK, mmring_reader_set_wait_strategy(r, MMRING_WAIT_SPIN_YIELD));
    EXPECT(MMRING_OK, mmring_reader_close(&r));
}

static void test_closed_and_wrong_kind(void) {
    mmring_writer *w = NULL;
    mmring_reader *r = NULL;
    EXPECT(MMRING_OK, mmring_writer_create(path_of("k"), 4096, &w));
    EXPECT(MMRING_OK, mmring_reader_open(path_of("k"), NULL, &r));
    size_t n;
    /* A reader is not a writer, and the other way round. */
    EXPECT(MMRING_INVALID_HANDLE, mmring_writer_try_send((mmring_writer *)r, "x", 1));
    EXPECT(MMRING_INVALID_HANDLE, mmring_reader_pending((mmring_reader *)w, &n));
    EXPECT(MMRING_INVALID_HANDLE, mmring_writer_close((mmring_writer **)&r));
    CHECK(r != NULL);
    /* Null out-pointers. */
    EXPECT(MMRING_INVALID_ARGUMENT, mmring_writer_capacity(w, NULL));
    EXPECT(MMRING_INVALID_ARGUMENT, mmring_writer_is_reader_alive(w, NULL));
    EXPECT(MMRING_INVALID_ARGUMENT, mmring_writer_in_flight(w, NULL));
    EXPECT(MMRING_INVALID_ARGUMENT, mmring_writer_try_reserve(w, 8, NULL));
    EXPECT(MMRING_INVALID_ARGUMENT, mmring_reader_try_recv(r, NULL));
    EXPECT(MMRING_INVALID_ARGUMENT, mmring_reader_pending(r, NULL));
    EXPECT(MMRING_INVALID_ARGUMENT, mmring_reader_try_recv_copy(r, NULL, 0, NULL));
    EXPECT(MMRING_INVALID_ARGUMENT, mmring_reader_is_untethered(r, NULL));
    EXPECT(MMRING_INVALID_ARGUMENT, mmring_reader_last_lap(r, NULL, NULL));
    EXPECT(MMRING_INVALID_ARGUMENT, mmring_reader_readiness_fd(r, NULL));
    EXPECT(MMRING_INVALID_ARGUMENT, mmring_reader_prepare_wait(r, NULL));
    EXPECT(MMRING_INVALID_ARGUMENT, mmring_writer_readiness_fd(w, NULL));
    EXPECT(MMRING_INVALID_ARGUMENT, mmring_writer_prepare_wait(w, 8, NULL));
    /* A reader is not a writer here either. */
    int fd = -2;
    EXPECT(MMRING_INVALID_HANDLE, mmring_writer_readiness_fd((mmring_writer *)r, &fd));
    EXPECT(MMRING_INVALID_HANDLE, mmring_reader_readiness_fd((mmring_reader *)w, &fd));
    CHECK(fd == -2);
    uint64_t lap_bytes = 9, lap_messages = 9;
    EXPECT(MMRING_OK, mmring_reader_last_lap(r, &lap_bytes, &lap_messages));
    CHECK(lap_bytes == 0 && lap_messages == 0); /* never lapped */
    bool untethered = true;
    EXPECT(MMRING_OK, mmring_reader_is_untethered(r, &untethered));
    CHECK(!untethered);
    /* Two live writers on one ring: the second is refused. */
    mmring_writer *w2 = NULL;
    EXPECT(MMRING_SIDE_TAKEN, mmring_writer_open(path_of("k"), NULL, &w2));
    CHECK(w2 == NULL);
    mmring_reader *r2 = NULL;
    EXPECT(MMRING_SIDE_TAKEN, mmring_reader_open(path_of("k"), NULL, &r2));
    /* Closed: the pointer is nulled, so later use is a null handle; closing again is fine. */
    EXPECT(MMRING_OK, mmring_writer_close(&w));
    CHECK(w == NULL);
    EXPECT(MMRING_INVALID_HANDLE, mmring_writer_try_send(w, "x", 1));
    EXPECT(MMRING_OK, mmring_writer_close(&w));
    EXPECT(MMRING_OK, mmring_reader_close(&r));
    CHECK(r == NULL);
    EXPECT(MMRING_INVALID_HANDLE, mmring_reader_try_recv(r, &(mmring_view){0}));
    /* The side is free again once closed. */
    EXPECT(MMRING_OK, mmring_writer_open(path_of("k"), NULL, &w));
    EXPECT(MMRING_OK, mmring_writer_close(&w));
}

static void test_sizes_and_buffers(void) {
    mmring_writer *w = NULL;
    mmring_reader *r = NULL;
    EXPECT(MMRING_OK, mmring_writer_create(path_of("s"), 4096, &w));
    EXPECT(MMRING_OK, mmring_reader_open(path_of("s"), NULL, &r));
    size_t max = 0, cap = 0, n;
    EXPECT(MMRING_OK, mmring_writer_max_message_len(w, &max));
    EXPECT(MMRING_OK, mmring_reader_capacity(r, &cap));
    CHECK(max == 2040 && cap == 4096);
    static uint8_t big[4096];
    EXPECT(MMRING_TOO_LARGE, mmring_writer_try_send(w, big, max + 1));
    EXPECT(MMRING_TOO_LARGE, mmring_writer_send(w, big, max + 1));
    EXPECT(MMRING_TOO_LARGE, mmring_writer_send_timeout(w, big, max + 1, 1000));
    mmring_grant g = {(uint8_t *)1, 5, 5};
    EXPECT(MMRING_TOO_LARGE, mmring_writer_try_reserve(w, max + 1, &g));
    CHECK(g.data == NULL && g.len == 0 && g.token == 0);
    EXPECT(MMRING_TOO_LARGE, mmring_writer_reserve(w, SIZE_MAX, &g));
    EXPECT(MMRING_INVALID_ARGUMENT, mmring_writer_try_send(w, NULL, 3));
    EXPECT(MMRING_OK, mmring_writer_try_send(w, NULL, 0)); /* an empty message */
    EXPECT(MMRING_OK, mmring_writer_try_send(w, big, max));

    /* The empty message: a view of length 0, and a copy into no buffer at all. */
    mmring_view v;
    EXPECT(MMRING_OK, mmring_reader_try_recv(r, &v));
    CHECK(v.len == 0 && v.token != 0);
    EXPECT(MMRING_OK, mmring_reader_release_view(r, &v));
    /* Too-small buffers: the message stays, *len says how much room it needs. */
    uint8_t small[16];
    n = 0;
    EXPECT(MMRING_BUFFER_TOO_SMALL, mmring_reader_try_recv_copy(r, small, sizeof small, &n));
    CHECK(n == max);
    n = 0;
    EXPECT(MMRING_BUFFER_TOO_SMALL, mmring_reader_try_recv_copy(r, NULL, 0, &n));
    CHECK(n == max);
    EXPECT(MMRING_BUFFER_TOO_SMALL, mmring_reader_recv_copy(r, small, sizeof small, &n));
    EXPECT(MMRING_BUFFER_TOO_SMALL, mmring_reader_recv_copy_timeout(r, small, sizeof small, &n, 0));
    EXPECT(MMRING_INVALID_ARGUMENT, mmring_reader_try_recv_copy(r, NULL, 10, &n));
    static uint8_t out[4096];
    EXPECT(MMRING_OK, mmring_reader_try_recv_copy(r, out, sizeof out, &n));
    CHECK(n == max);
    EXPECT(MMRING_EMPTY, mmring_reader_try_recv_copy(r, out, sizeof out, &n));
    CHECK(n == 0);
    EXPECT(MMRING_EMPTY, mmring_reader_try_skip(r, &n));

    /* Commit longer than the grant: refused, the grant stays open and can be committed. */
    EXPECT(MMRING_OK, mmring_writer_try_reserve(w, 10, &g));
    CHECK(g.len == 10 && g.data != NULL && ((uintptr_t)g.data % 8) == 0);
    EXPECT(MMRING_INVALID_ARGUMENT, mmring_writer_commit(w, &g, 11));
    CHECK(g.len == 10);
    memcpy(g.data, "abc", 3);
    EXPECT(MMRING_OK, mmring_writer_commit(w, &g, 3));
    CHECK(g.data == NULL && g.token == 0);
    EXPECT(MMRING_OK, mmring_reader_try_recv(r, &v));
    CHECK(v.len == 3 && memcmp(v.data, "abc", 3) == 0);
    EXPECT(MMRING_OK, mmring_reader_close(&r));
    EXPECT(MMRING_OK, mmring_writer_close(&w));
}

static void test_grant_state(void) {
    mmring_writer *w = NULL;
    mmring_reader *r = NULL;
    EXPECT(MMRING_OK, mmring_writer_create(path_of("g"), 4096, &w));
    EXPECT(MMRING_OK, mmring_reader_open(path_of("g"), NULL, &r));
    mmring_grant g, g2;
    bool alive = false;
    size_t n;
    EXPECT(MMRING_WRONG_STATE, mmring_writer_commit(w, &(mmring_grant){0}, 0));
    EXPECT(MMRING_INVALID_ARGUMENT, mmring_writer_commit(w, NULL, 0));
    EXPECT(MMRING_OK, mmring_writer_try_reserve(w, 8, &g));
    mmring_grant copy = g;
    /* While a grant is open: no other send, no second grant, no queries of the peer. */
    EXPECT(MMRING_WRONG_STATE, mmring_writer_try_send(w, "x", 1));
    EXPECT(MMRING_WRONG_STATE, mmring_writer_send(w, "x", 1));
    EXPECT(MMRING_WRONG_STATE, mmring_writer_try_reserve(w, 8, &g2));
    EXPECT(MMRING_WRONG_STATE, mmring_writer_is_reader_alive(w, &alive));
    EXPECT(MMRING_WRONG_STATE, mmring_writer_in_flight(w, &n));
    EXPECT(MMRING_WRONG_STATE, mmring_writer_batch_begin(w));
    EXPECT(MMRING_WRONG_STATE, mmring_writer_flush(w));
    int fd = -2;
    bool ready = true;
    EXPECT(MMRING_WRONG_STATE, mmring_writer_readiness_fd(w, &fd));
    EXPECT(MMRING_WRONG_STATE, mmring_writer_prepare_wait(w, 8, &ready));
    EXPECT(MMRING_WRONG_STATE, mmring_writer_finish_wait(w));
    CHECK(fd == -1 && !ready); /* outputs reset even when refused */
    EXPECT(MMRING_OK, mmring_writer_capacity(w, &n)); /* fixed facts are fine */
    /* A forged grant is not the open one. */
    mmring_grant forged = g;
    forged.token++;
    EXPECT(MMRING_WRONG_STATE, mmring_writer_commit(w, &forged, 8));
    EXPECT(MMRING_OK, mmring_writer_abort(w, &g));
    CHECK(g.token == 0);
    /* A stale copy of the aborted grant. */
    EXPECT(MMRING_WRONG_STATE, mmring_writer_commit(w, &copy, 8));
    EXPECT(MMRING_WRONG_STATE, mmring_writer_abort(w, &copy));
    EXPECT(MMRING_EMPTY, mmring_reader_try_recv(r, &(mmring_view){0})); /* nothing published */
    EXPECT(MMRING_OK, mmring_writer_is_reader_alive(w, &alive));
    CHECK(alive);
    /* Another writer's grant. */
    mmring_writer *w3 = NULL;
    EXPECT(MMRING_OK, mmring_writer_create(path_of("g3"), 4096, &w3));
    EXPECT(MMRING_OK, mmring_writer_try_reserve(w3, 8, &g2));
    EXPECT(MMRING_WRONG_STATE, mmring_writer_commit(w, &g2, 8));
    EXPECT(MMRING_OK, mmring_writer_close(&w3)); /* closing with a grant open abandons it */
    /* A grant left open at close publishes nothing. */
    EXPECT(MMRING_OK, mmring_writer_try_reserve(w, 8, &g));
    EXPECT(MMRING_OK, mmring_writer_close(&w));
    EXPECT(MMRING_DISCONNECTED, mmring_reader_try_recv(r, &(mmring_view){0}));
    EXPECT(MMRING_OK, mmring_reader_close(&r));
}

static void test_batches(void) {
    mmring_writer *w = NULL;
    mmring_reader *r = NULL;
    EXPECT(MMRING_OK, mmring_writer_create(path_of("b"), 4096, &w));
    EXPECT(MMRING_OK, mmring_reader_open(path_of("b"), NULL, &r));
    mmring_grant g;
    mmring_view v;
    EXPECT(MMRING_WRONG_STATE, mmring_writer_batch_send(w, "x", 1));
    EXPECT(MMRING_WRONG_STATE, mmring_writer_batch_reserve(w, 1, &g));
    EXPECT(MMRING_WRONG_STATE, mmring_writer_batch_publish(w));
    EXPECT(MMRING_WRONG_STATE, mmring_writer_batch_end(w));
    EXPECT(MMRING_OK, mmring_writer_batch_begin(w));
    EXPECT(MMRING_WRONG_STATE, mmring_writer_batch_begin(w));
    EXPECT(MMRING_WRONG_STATE, mmring_writer_try_send(w, "x", 1));
    EXPECT(MMRING_WRONG_STATE, mmring_writer_send(w, "x", 1));
    EXPECT(MMRING_WRONG_STATE, mmring_writer_try_reserve(w, 1, &g));
    EXPECT(MMRING_OK, mmring_writer_batch_send(w, "one", 3));
    EXPECT(MMRING_OK, mmring_writer_batch_reserve(w, 8, &g));
    EXPECT(MMRING_WRONG_STATE, mmring_writer_batch_send(w, "x", 1));
    EXPECT(MMRING_WRONG_STATE, mmring_writer_batch_publish(w));
    EXPECT(MMRING_WRONG_STATE, mmring_writer_batch_end(w));
    memcpy(g.data, "two", 3);
    EXPECT(MMRING_INVALID_ARGUMENT, mmring_writer_commit(w, &g, 9));
    EXPECT(MMRING_OK, mmring_writer_commit(w, &g, 3));
    /* Staged, not published. */
    EXPECT(MMRING_EMPTY, mmring_reader_try_recv(r, &v));
    EXPECT(MMRING_OK, mmring_writer_batch_publish(w));
    EXPECT(MMRING_OK, mmring_reader_try_recv(r, &v));
    CHECK(v.len == 3 && memcmp(v.data, "one", 3) == 0);
    EXPECT(MMRING_OK, mmring_reader_try_recv(r, &v));
    CHECK(v.len == 3 && memcmp(v.data, "two", 3) == 0);
    /* A batch fills up: FULL, nothing lost; ending it publishes. */
    static uint8_t m[1000];
    int staged = 0;
    mmring_status st;
    while ((st = mmring_writer_batch_send(w, m, sizeof m)) == MMRING_OK) staged++;
    CHECK(st == MMRING_FULL && staged >= 2);
    EXPECT(MMRING_OK, mmring_writer_batch_reserve(w, 8, &g));
    EXPECT(MMRING_OK, mmring_writer_abort(w, &g));
    EXPECT(MMRING_OK, mmring_writer_batch_end(w));
    int got = 0;
    while (mmring_reader_try_recv(r, &v) == MMRING_OK) got++;
    CHECK(got == staged);
    /* A batch left open at close is published. */
    EXPECT(MMRING_OK, mmring_writer_batch_begin(w));
    EXPECT(MMRING_OK, mmring_writer_batch_send(w, "last", 4));
    EXPECT(MMRING_OK, mmring_writer_close(&w));
    EXPECT(MMRING_OK, mmring_reader_try_recv(r, &v));
    CHECK(v.len == 4 && memcmp(v.data, "last", 4) == 0);
    EXPECT(MMRING_DISCONNECTED, mmring_reader_try_recv(r, &v));
    EXPECT(MMRING_OK, mmring_reader_close(&r));
}

static void test_views(void) {
    mmring_writer *w = NULL;
    mmring_reader *r = NULL;
    EXPECT(MMRING_OK, mmring_writer_create(path_of("v"), 4096, &w));
    EXPECT(MMRING_OK, mmring_reader_open(path_of("v"), NULL, &r));
    mmring_view v, old;
    size_t n;
    EXPECT(MMRING_WRONG_STATE, mmring_reader_release_view(r, &(mmring_view){0}));
    EXPECT(MMRING_INVALID_ARGUMENT, mmring_reader_release_view(r, NULL));
    EXPECT(MMRING_OK, mmring_writer_try_send(w, "a", 1));
    EXPECT(MMRING_OK, mmring_writer_try_send(w, "bb", 2));
    EXPECT(MMRING_OK, mmring_writer_try_send(w, "ccc", 3));
    EXPECT(MMRING_OK, mmring_reader_pending(r, &n));
    CHECK(n == 48);
    EXPECT(MMRING_OK, mmring_reader_try_recv(r, &v));
    CHECK(v.len == 1 && v.data[0] == 'a');
    /* Keep: the same message comes back. */
    old = v;
    EXPECT(MMRING_OK, mmring_reader_keep_view(r, &v));
    CHECK(v.data == NULL);
    EXPECT(MMRING_WRONG_STATE, mmring_reader_keep_view(r, &old));
    EXPECT(MMRING_OK, mmring_reader_try_recv(r, &v));
    CHECK(v.len == 1 && v.data[0] == 'a');
    old = v;
    /* The next receive ends the previous view: it is stale now. */
    EXPECT(MMRING_OK, mmring_reader_recv(r, &v));
    CHECK(v.len == 2 && memcmp(v.data, "bb", 2) == 0);
    EXPECT(MMRING_WRONG_STATE, mmring_reader_release_view(r, &old));
    EXPECT(MMRING_OK, mmring_reader_release_view(r, &v));
    CHECK(v.data == NULL && v.len == 0 && v.token == 0);
    EXPECT(MMRING_WRONG_STATE, mmring_reader_release_view(r, &v));
    EXPECT(MMRING_OK, mmring_reader_recv_timeout(r, 1000000000, &v));
    CHECK(v.len == 3);
    EXPECT(MMRING_OK, mmring_reader_release(r)); /* consumes the open view too */
    EXPECT(MMRING_WRONG_STATE, mmring_reader_release_view(r, &v));
    EXPECT(MMRING_OK, mmring_writer_in_flight(w, &n));
    CHECK(n == 0);
    /* Non-blocking outcomes. */
    EXPECT(MMRING_EMPTY, mmring_reader_try_recv(r, &v));
    CHECK(v.data == NULL && v.token == 0);
    EXPECT(MMRING_TIMEOUT, mmring_reader_recv_timeout(r, 1000000, &v));
    EXPECT(MMRING_TIMEOUT, mmring_reader_recv_copy_timeout(r, NULL, 0, &n, 1000000));
    EXPECT(MMRING_OK, mmring_reader_close(&r));
    EXPECT(MMRING_OK, mmring_writer_close(&w));
}

static void test_full_and_disconnected(void) {
    mmring_writer *w = NULL;
    mmring_reader *r = NULL;
    mmring_grant g;
    EXPECT(MMRING_OK, mmring_writer_create(path_of("f"), 4096, &w));
    EXPECT(MMRING_OK, mmring_reader_open(path_of("f"), NULL, &r));
    static uint8_t m[1000];
    int sent = 0;
    mmring_status st;
    while ((st = mmring_writer_try_send(w, m, sizeof m)) == MMRING_OK) sent++;
    CHECK(st == MMRING_FULL && sent >= 2);
    EXPECT(MMRING_FULL, mmring_writer_try_reserve(w, sizeof m, &g));
    EXPECT(MMRING_TIMEOUT, mmring_writer_send_timeout(w, m, sizeof m, 1000000));
    EXPECT(MMRING_TIMEOUT, mmring_writer_reserve_timeout(w, sizeof m, 1000000, &g));
    /* The reader goes: a blocked send on a full ring reports it. */
    EXPECT(MMRING_OK, mmring_reader_close(&r));
    EXPECT(MMRING_DISCONNECTED, mmring_writer_send(w, m, sizeof m));
    EXPECT(MMRING_DISCONNECTED, mmring_writer_reserve(w, sizeof m, &g));
    bool alive = true;
    EXPECT(MMRING_OK, mmring_writer_is_reader_alive(w, &alive));
    CHECK(!alive);
    /* The reader comes back and gets everything; the writer goes: DISCONNECTED after that. */
    EXPECT(MMRING_OK, mmring_reader_open(path_of("f"), NULL, &r));
    EXPECT(MMRING_OK, mmring_writer_close(&w));
    int got = 0;
    size_t n;
    uint8_t buf[1000];
    while ((st = mmring_reader_recv_copy(r, buf, sizeof buf, &n)) == MMRING_OK) got++;
    CHECK(st == MMRING_DISCONNECTED && got == sent);
    EXPECT(MMRING_DISCONNECTED, mmring_reader_try_recv(r, &(mmring_view){0}));
    EXPECT(MMRING_DISCONNECTED, mmring_reader_recv(r, &(mmring_view){0}));
    EXPECT(MMRING_DISCONNECTED, mmring_reader_try_skip(r, &n));
    mmring_writer_status ws;
    EXPECT(MMRING_OK, mmring_reader_writer_status(r, &ws, NULL));
    CHECK(ws == MMRING_WRITER_GONE);
    EXPECT(MMRING_OK, mmring_reader_close(&r));
}

/* Drain callbacks. */
struct drain_ctx {
    mmring_reader *r;
    int calls, stop_after;
    size_t bytes;
    mmring_status reentry;
};

static int32_t on_message(void *user, const uint8_t *data, size_t len) {
    struct drain_ctx *c = user;
    (void)data;
    c->calls++;
    c->bytes += len;
    size_t n;
    c->reentry = mmring_reader_pending(c->r, &n); /* must be refused: MMRING_BUSY */
    return c->calls == c->stop_after;
}

static void test_drain(void) {
    mmring_writer *w = NULL;
    mmring_reader *r = NULL;
    EXPECT(MMRING_OK, mmring_writer_create(path_of("d"), 4096, &w));
    EXPECT(MMRING_OK, mmring_reader_open(path_of("d"), NULL, &r));
    struct drain_ctx c = {r, 0, 0, 0, MMRING_OK};
    size_t n = 99;
    EXPECT(MMRING_INVALID_ARGUMENT, mmring_reader_drain(r, 10, 0, NULL, &c, &n));
    EXPECT(MMRING_INVALID_ARGUMENT, mmring_reader_drain(r, 10, 0, on_message, &c, NULL));
    EXPECT(MMRING_INVALID_ARGUMENT, mmring_reader_drain(r, 10, 0x80, on_message, &c, &n));
    EXPECT(MMRING_EMPTY, mmring_reader_drain(r, 10, 0, on_message, &c, &n));
    CHECK(n == 0 && c.calls == 0);
    for (int i = 0; i < 5; i++) EXPECT(MMRING_OK, mmring_writer_try_send(w, "12345678", 8));
    EXPECT(MMRING_OK, mmring_reader_drain(r, 0, 0, on_message, &c, &n));
    CHECK(n == 0 && c.calls == 0);
    c.stop_after = 2;
    EXPECT(MMRING_OK, mmring_reader_drain(r, 10, 0, on_message, &c, &n));
    CHECK(n == 2 && c.calls == 2 && c.reentry == MMRING_BUSY);
    c.calls = 0;
    c.stop_after = 0;
    EXPECT(MMRING_OK, mmring_reader_drain(r, 2, MMRING_DRAIN_COPY, on_message, &c, &n));
    CHECK(n == 2 && c.calls == 2 && c.bytes == 32);
    EXPECT(MMRING_OK, mmring_reader_drain(r, 10, 0, on_message, &c, &n));
    CHECK(n == 1);
    /* The handle works again after the callback returned. */
    EXPECT(MMRING_OK, mmring_reader_pending(r, &n));
    EXPECT(MMRING_OK, mmring_writer_close(&w));
    EXPECT(MMRING_DISCONNECTED, mmring_reader_drain(r, 10, 0, on_message, &c, &n));
    EXPECT(MMRING_OK, mmring_reader_close(&r));
}

/* Two threads on one handle: the second gets MMRING_BUSY while the first is inside. */
static mmring_reader *busy_reader;
static atomic_int busy_status = -1;

static void *blocked_recv(void *arg) {
    (void)arg;
    mmring_view v;
    mmring_status st;
    /* The main thread's probe may hold the handle at the moment we call: try again then. */
    while ((st = mmring_reader_recv(busy_reader, &v)) == MMRING_BUSY) sched_yield();
    atomic_store(&busy_status, st);
    return NULL;
}

static void test_busy(void) {
    mmring_writer *w = NULL;
    EXPECT(MMRING_OK, mmring_writer_create(path_of("busy"), 4096, &w));
    EXPECT(MMRING_OK, mmring_reader_open(path_of("busy"), NULL, &busy_reader));
    pthread_t t;
    CHECK(pthread_create(&t, NULL, blocked_recv, NULL) == 0);
    /* Poll until the thread is inside its blocking receive (no sleep, no timing). */
    size_t n;
    mmring_status st;
    while ((st = mmring_reader_pending(busy_reader, &n)) == MMRING_OK) sched_yield();
    CHECK(st == MMRING_BUSY);
    CHECK(strstr(mmring_last_error(), "in use") != NULL);
    mmring_reader *copy = busy_reader;
    EXPECT(MMRING_BUSY, mmring_reader_close(&copy)); /* never freed under another thread */
    CHECK(copy == busy_reader);
    EXPECT(MMRING_OK, mmring_writer_try_send(w, "wake", 4));
    CHECK(pthread_join(t, NULL) == 0);
    CHECK(atomic_load(&busy_status) == MMRING_OK);
    EXPECT(MMRING_OK, mmring_reader_pending(busy_reader, &n));
    EXPECT(MMRING_OK, mmring_reader_close(&busy_reader));
    EXPECT(MMRING_OK, mmring_writer_close(&w));
}

static void test_not_rings(void) {
    mmring_reader *r = NULL;
    mmring_writer *w = NULL;
    write_file(path_of("empty"), "", 0);
    EXPECT(MMRING_NOT_A_RING, mmring_reader_open(path_of("empty"), NULL, &r));
    write_file(path_of("short"), "MMRING\r\n", 8);
    EXPECT(MMRING_NOT_A_RING, mmring_reader_open(path_of("short"), NULL, &r));
    static uint8_t junk[8192];
    memset(junk, 0x5a, sizeof junk);
    write_file(path_of("junk"), junk, sizeof junk);
    EXPECT(MMRING_NOT_A_RING, mmring_writer_open(path_of("junk"), NULL, &w));
    EXPECT(MMRING_NOT_A_RING, mmring_writer_open_or_create(path_of("junk"), 4096, &w));
    CHECK(mkdir(path_of("adir"), 0700) == 0);
    EXPECT(MMRING_NOT_A_RING, mmring_reader_open(path_of("adir"), NULL, &r));
    EXPECT(MMRING_OK, mmring_create_unattached(path_of("real"), &(mmring_options){
                                                                    .struct_size = sizeof(mmring_options),
                                                                    .create = MMRING_CREATE,
                                                                    .capacity = 4096,
                                                                    .mode = 0600,
                                                                    .init_timeout_ns = 1000000000,
                                                                    .readers = 1,
                                                                }));
    CHECK(symlink(path_of("real"), path_of("link")) == 0);
    EXPECT(MMRING_NOT_A_RING, mmring_reader_open(path_of("link"), NULL, &r));
    CHECK(strstr(mmring_last_error(), "symbolic link") != NULL);
    mmring_ring_info info = {.struct_size = sizeof info};
    EXPECT(MMRING_NOT_A_RING, mmring_inspect(path_of("junk"), &info, NULL, 0));
    CHECK(r == NULL && w == NULL);
}

static void test_corrupt(void) {
    mmring_writer *w = NULL;
    mmring_reader *r = NULL;
    mmring_view v;
    /* inspect: its arguments, and the fields of a ring. */
    EXPECT(MMRING_OK, mmring_writer_create(path_of("c"), 4096, &w));
    EXPECT(MMRING_OK, mmring_writer_try_send(w, "hello", 5));
    mmring_ring_info info;
    memset(&info, 0, sizeof info);
    EXPECT(MMRING_INVALID_ARGUMENT, mmring_inspect(path_of("c"), &info, NULL, 0));
    info.struct_size = sizeof info;
    EXPECT(MMRING_INVALID_ARGUMENT, mmring_inspect(path_of("c"), NULL, NULL, 0));
    EXPECT(MMRING_INVALID_ARGUMENT, mmring_inspect(path_of("c"), &info, NULL, 1));
    EXPECT(MMRING_INVALID_ARGUMENT, mmring_inspect(NULL, &info, NULL, 0));
    mmring_reader_info slots[2];
    memset(slots, 0xff, sizeof slots);
    EXPECT(MMRING_OK, mmring_inspect(path_of("c"), &info, slots, 2));
    CHECK(info.struct_size == sizeof info && info.version == 2 && info.capacity == 4096);
    CHECK(info.readers == 1 && info.writer.alive == 1 && info.writer.state == MMRING_SIDE_ATTACHED);
    CHECK(info.writer.pid == (uint32_t)getpid() && info.end_pos == 16);
    CHECK(slots[0].slot == 0 && slots[0].messages_pending == 1 && slots[0].payload_bytes_pending == 5);
    CHECK(slots[0].kind == MMRING_READER_TETHERED && slots[0].side.state == MMRING_SIDE_NEVER);
    CHECK(slots[1].slot == 0xffffffff); /* untouched beyond info.readers */

    /* A record header no correct writer writes: the reader is poisoned, for good. */
    EXPECT(MMRING_OK, mmring_reader_open(path_of("c"), NULL, &r));
    pwrite_u64(path_of("c"), info.data_offset, UINT64_C(0xdeadbeefdeadbeef));
    EXPECT(MMRING_CORRUPT, mmring_reader_try_recv(r, &v));
    CHECK(strstr(mmring_last_error(), "corrupt") != NULL);
    EXPECT(MMRING_CORRUPT, mmring_reader_try_recv(r, &v));
    EXPECT(MMRING_CORRUPT, mmring_reader_recv_copy(r, NULL, 0, &(size_t){0}));
    EXPECT(MMRING_CORRUPT, mmring_reader_drain(r, 1, 0, on_message, &(struct drain_ctx){0}, &(size_t){0}));
    EXPECT(MMRING_OK, mmring_reader_close(&r));
    EXPECT(MMRING_OK, mmring_writer_close(&w));

    /* A header with a bad capacity, and one of another version: refused at open. */
    EXPECT(MMRING_OK, mmring_writer_create(path_of("c2"), 4096, &w));
    EXPECT(MMRING_OK, mmring_writer_close(&w));
    pwrite_u64(path_of("c2"), 16, 12345);
    EXPECT(MMRING_CORRUPT, mmring_reader_open(path_of("c2"), NULL, &r));
    EXPECT(MMRING_CORRUPT, mmring_inspect(path_of("c2"), &info, NULL, 0));
    pwrite_u64(path_of("c2"), 16, 4096);
    pwrite_u32(path_of("c2"), 8, 99);
    EXPECT(MMRING_VERSION_MISMATCH, mmring_writer_open(path_of("c2"), NULL, &w));
    CHECK(r == NULL && w == NULL);
    /* A truncated file: the length no longer matches the header. */
    EXPECT(MMRING_OK, mmring_writer_create(path_of("c3"), 4096, &w));
    EXPECT(MMRING_OK, mmring_writer_close(&w));
    CHECK(truncate(path_of("c3"), 6000) == 0);
    EXPECT(MMRING_CORRUPT, mmring_reader_open(path_of("c3"), NULL, &r));
}

static void test_foreign_owner(void) {
    if (geteuid() != 0) {
        printf("skipped: foreign owner (needs root to chown)\n");
        return;
    }
    mmring_options o;
    mmring_options_init(&o);
    o.create = MMRING_CREATE;
    o.capacity = 4096;
    EXPECT(MMRING_OK, mmring_create_unattached(path_of("foreign"), &o));
    CHECK(chown(path_of("foreign"), 12345, 12345) == 0);
    mmring_reader *r = NULL;
    EXPECT(MMRING_FOREIGN_OWNER, mmring_reader_open(path_of("foreign"), NULL, &r));
    mmring_options_init(&o);
    o.flags = MMRING_OPT_ALLOW_FOREIGN_OWNER;
    EXPECT(MMRING_OK, mmring_reader_open(path_of("foreign"), &o, &r));
    EXPECT(MMRING_OK, mmring_reader_close(&r));
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: errors DIR\n");
        return 2;
    }
    snprintf(dir, sizeof dir, "%s", argv[1]);
    /* Nothing has failed on this thread yet: the message is empty, never null. */
    CHECK(mmring_last_error() != NULL && mmring_last_error()[0] == '\0');
    test_statics();
    test_null_handles();
    test_open_arguments();
    test_options();
    test_closed_and_wrong_kind();
    test_sizes_and_buffers();
    test_grant_state();
    test_batches();
    test_views();
    test_full_and_disconnected();
    test_drain();
    test_busy();
    test_not_rings();
    test_corrupt();
    test_foreign_owner();
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
