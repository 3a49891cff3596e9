/* Fan-out and readiness from C: an untethered reader next to a tethered one on a ring with two
 * slots, lapped (MMRING_LAPPED with the bytes missed, then intact messages), the view
 * functions it does not support, messages too long for the caller's buffer, a lap found in the
 * middle of a drain; MMRING_READERS_FULL; the start positions (oldest, next, resume, and a
 * resumed slot the writer overwrote); an options struct of version 1 (48 bytes) from an older
 * caller and one from a newer header; the readiness handles of both sides with poll(2), in one
 * process (tests/c/poll_wait.c does it across processes).
 *
 * Usage: fanout DIR (an empty directory for the ring files). Prints one line per failed check
 * and ends with "N passed, M failed"; exits 0 only if none failed. Built by tests/fanout.rs,
 * plain and under AddressSanitizer + UndefinedBehaviorSanitizer. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* Options that create a ring of `capacity` bytes with `readers` slots. */
static mmring_options creating(uint64_t capacity, uint32_t readers) {
    mmring_options o;
    mmring_options_init(&o);
    o.create = MMRING_CREATE;
    o.capacity = capacity;
    o.readers = readers;
    return o;
}

/* Options that open a reader of `kind` starting at `start`. */
static mmring_options reading(mmring_reader_kind kind, mmring_start start) {
    mmring_options o;
    mmring_options_init(&o);
    o.reader_kind = kind;
    o.start = start;
    return o;
}

/* Message `seq`: 40 bytes, "m" and the number, then filler. */
#define MSG_LEN 40
static void message(uint64_t seq, char *m) {
    memset(m, 'x', MSG_LEN);
    snprintf(m, MSG_LEN, "m%08" PRIu64, seq);
}

static long seq_of(const char *m, size_t len) {
    char want[MSG_LEN];
    if (len != MSG_LEN || m[0] != 'm') return -1;
    long seq = strtol(m + 1, NULL, 10);
    message((uint64_t)seq, want);
    return memcmp(want, m, MSG_LEN) == 0 ? seq : -1;
}

/* Sends message `seq` and lets the tethered reader `t` consume it (so that only the
 * untethered reader falls behind). */
static void send_and_consume(mmring_writer *w, mmring_reader *t, uint64_t seq) {
    char m[MSG_LEN], got[MSG_LEN];
    size_t n;
    message(seq, m);
    EXPECT(MMRING_OK, mmring_writer_try_send(w, m, MSG_LEN));
    EXPECT(MMRING_OK, mmring_reader_try_recv_copy(t, got, sizeof got, &n));
    CHECK(seq_of(got, n) == (long)seq);
}

static int32_t count_calls(void *user, const uint8_t *data, size_t len) {
    (void)data;
    (void)len;
    ++*(int *)user;
    return 0;
}

static void test_untethered_lapped(void) {
    mmring_options o = creating(1024, 2);
    mmring_writer *w = NULL;
    mmring_reader *t = NULL, *u = NULL;
    EXPECT(MMRING_OK, mmring_writer_open(path_of("lap"), &o, &w));
    EXPECT(MMRING_OK, mmring_reader_open(path_of("lap"), NULL, &t));
    o = reading(MMRING_READER_UNTETHERED, MMRING_START_OLDEST);
    EXPECT(MMRING_OK, mmring_reader_open(path_of("lap"), &o, &u));
    bool untethered = false;
    EXPECT(MMRING_OK, mmring_reader_is_untethered(u, &untethered));
    CHECK(untethered);
    EXPECT(MMRING_OK, mmring_reader_is_untethered(t, &untethered));
    CHECK(!untethered);
    size_t cap = 0, max = 0;
    EXPECT(MMRING_OK, mmring_reader_capacity(u, &cap));
    EXPECT(MMRING_OK, mmring_reader_max_message_len(u, &max));
    CHECK(cap == 1024 && max == 504);
    mmring_writer_status ws;
    EXPECT(MMRING_OK, mmring_reader_writer_status(u, &ws, NULL));
    CHECK(ws == MMRING_WRITER_ALIVE);

    /* The zero-copy functions are not for an untethered reader: nothing is done. */
    mmring_view v = {(const uint8_t *)1, 1, 1};
    size_t n = 7;
    EXPECT(MMRING_EMPTY, mmring_reader_try_recv_copy(u, NULL, 0, &n));
    EXPECT(MMRING_UNSUPPORTED, mmring_reader_try_recv(u, &v));
    CHECK(v.data == NULL && v.len == 0 && v.token == 0);
    CHECK(strstr(mmring_last_error(), "untethered") != NULL);
    EXPECT(MMRING_UNSUPPORTED, mmring_reader_recv(u, &v));
    EXPECT(MMRING_UNSUPPORTED, mmring_reader_recv_timeout(u, 1000, &v));
    EXPECT(MMRING_UNSUPPORTED, mmring_reader_release_view(u, &v));
    EXPECT(MMRING_UNSUPPORTED, mmring_reader_keep_view(u, &v));
    EXPECT(MMRING_UNSUPPORTED, mmring_reader_pending(u, &n));
    int calls = 0;
    EXPECT(MMRING_UNSUPPORTED, mmring_reader_drain(u, 1, 0, count_calls, &calls, &n));
    CHECK(calls == 0 && n == 0);
    EXPECT(MMRING_OK, mmring_reader_release(u)); /* nothing to give back: it holds nothing */

    /* The writer goes round the ring more than twice; the untethered reader reads nothing and
     * never holds it back. */
    uint64_t sent = 0;
    for (; sent < 3 * 1024 / 48; sent++) send_and_consume(w, t, sent);
    char buf[MSG_LEN];
    n = 0;
    EXPECT(MMRING_LAPPED, mmring_reader_try_recv_copy(u, buf, sizeof buf, &n));
    CHECK(n == 0);
    CHECK(strstr(mmring_last_error(), "lapped") != NULL);
    uint64_t missed = 0, missed_messages = 0;
    EXPECT(MMRING_OK, mmring_reader_last_lap(u, &missed, &missed_messages));
    CHECK(missed > 0 && missed % 8 == 0 && missed_messages == MMRING_UNKNOWN);
    EXPECT(MMRING_OK, mmring_reader_last_lap(u, &missed, NULL)); /* messages are optional */
    /* Then intact messages, in order, up to the last one sent. */
    long first = -1, last = -1;
    mmring_status st;
    while ((st = mmring_reader_try_recv_copy(u, buf, sizeof buf, &n)) == MMRING_OK) {
        long seq = seq_of(buf, n);
        CHECK(seq >= 0 && (last < 0 || seq == last + 1));
        if (first < 0) first = seq;
        last = seq;
    }
    CHECK(st == MMRING_EMPTY);
    CHECK(first > 0 && last == (long)sent - 1);

    /* A message longer than the buffer stays in the handle for the next receive. */
    send_and_consume(w, t, sent++);
    char small[8];
    EXPECT(MMRING_BUFFER_TOO_SMALL, mmring_reader_try_recv_copy(u, small, sizeof small, &n));
    CHECK(n == MSG_LEN);
    EXPECT(MMRING_BUFFER_TOO_SMALL, mmring_reader_recv_copy(u, NULL, 0, &n));
    CHECK(n == MSG_LEN);
    bool ready = false;
    EXPECT(MMRING_OK, mmring_reader_prepare_wait(u, &ready));
    CHECK(ready); /* it has a message to deliver: no waiting */
    EXPECT(MMRING_OK, mmring_reader_recv_copy_timeout(u, buf, sizeof buf, &n, 0));
    CHECK(seq_of(buf, n) == (long)sent - 1);
    /* try_skip skips a held message, or the next one. */
    send_and_consume(w, t, sent++);
    send_and_consume(w, t, sent++);
    EXPECT(MMRING_BUFFER_TOO_SMALL, mmring_reader_try_recv_copy(u, NULL, 0, &n));
    EXPECT(MMRING_OK, mmring_reader_try_skip(u, &n));
    CHECK(n == MSG_LEN);
    EXPECT(MMRING_OK, mmring_reader_try_skip(u, NULL));
    EXPECT(MMRING_EMPTY, mmring_reader_try_skip(u, &n));
    EXPECT(MMRING_TIMEOUT, mmring_reader_recv_copy_timeout(u, buf, sizeof buf, &n, 1000000));

    /* Lapped again, seen by a blocking receive and by try_skip. */
    for (int i = 0; i < 3 * 1024 / 48; i++) send_and_consume(w, t, sent++);
    EXPECT(MMRING_LAPPED, mmring_reader_recv_copy(u, buf, sizeof buf, &n));
    EXPECT(MMRING_OK, mmring_reader_recv_copy(u, buf, sizeof buf, &n));
    CHECK(seq_of(buf, n) > 0);
    for (int i = 0; i < 3 * 1024 / 48; i++) send_and_consume(w, t, sent++);
    EXPECT(MMRING_LAPPED, mmring_reader_try_skip(u, &n));
    EXPECT(MMRING_OK, mmring_reader_last_lap(u, &missed, NULL));
    CHECK(missed > 0);
    /* The tethered reader was never lapped. */
    uint64_t t_missed = 1;
    EXPECT(MMRING_OK, mmring_reader_last_lap(t, &t_missed, NULL));
    CHECK(t_missed == 0);

    EXPECT(MMRING_OK, mmring_reader_close(&u));
    EXPECT(MMRING_OK, mmring_reader_close(&t));
    EXPECT(MMRING_OK, mmring_writer_close(&w));
}

/* A drain that laps its own untethered reader: the first callback makes the writer go round
 * the ring (the tethered reader keeping up), so the drain finds a loss after one message. */
struct lapping {
    mmring_writer *w;
    mmring_reader *t;
    uint64_t next;
    int calls;
    long seqs[64];
    mmring_status reentry;
    mmring_reader *u;
};

static int32_t lap_in_drain(void *user, const uint8_t *data, size_t len) {
    struct lapping *c = user;
    if (c->calls < 64) c->seqs[c->calls] = seq_of((const char *)data, len);
    if (c->calls++ == 0) {
        for (int i = 0; i < 3 * 1024 / 48; i++) send_and_consume(c->w, c->t, c->next++);
        size_t n;
        c->reentry = mmring_reader_try_recv_copy(c->u, NULL, 0, &n);
    }
    return 0;
}

static void test_drain_untethered(void) {
    mmring_options o = creating(1024, 2);
    mmring_writer *w = NULL;
    mmring_reader *t = NULL, *u = NULL;
    EXPECT(MMRING_OK, mmring_writer_open(path_of("drain"), &o, &w));
    EXPECT(MMRING_OK, mmring_reader_open(path_of("drain"), NULL, &t));
    o = reading(MMRING_READER_UNTETHERED, MMRING_START_DEFAULT);
    EXPECT(MMRING_OK, mmring_reader_open(path_of("drain"), &o, &u));
    struct lapping c = {w, t, 0, 0, {0}, MMRING_OK, u};
    size_t n = 9;
    EXPECT(MMRING_UNSUPPORTED, mmring_reader_drain(u, 10, 0, lap_in_drain, &c, &n));
    CHECK(n == 0 && c.calls == 0);
    EXPECT(MMRING_EMPTY, mmring_reader_drain(u, 10, MMRING_DRAIN_COPY, lap_in_drain, &c, &n));
    for (int i = 0; i < 3; i++) send_and_consume(w, t, c.next++);
    /* One message handed, then the loss the callback caused: the drain succeeds with one. */
    EXPECT(MMRING_OK, mmring_reader_drain(u, 10, MMRING_DRAIN_COPY, lap_in_drain, &c, &n));
    CHECK(n == 1 && c.calls == 1 && c.seqs[0] == 0 && c.reentry == MMRING_BUSY);
    /* The next receive reports it, then the drain goes on with intact messages. */
    EXPECT(MMRING_LAPPED, mmring_reader_drain(u, 10, MMRING_DRAIN_COPY, lap_in_drain, &c, &n));
    CHECK(n == 0);
    uint64_t missed = 0;
    EXPECT(MMRING_OK, mmring_reader_last_lap(u, &missed, NULL));
    CHECK(missed > 0);
    c.calls = 1; /* no more lapping */
    EXPECT(MMRING_OK, mmring_reader_drain(u, 3, MMRING_DRAIN_COPY, lap_in_drain, &c, &n));
    CHECK(n == 3 && c.seqs[1] > 3 && c.seqs[2] == c.seqs[1] + 1 && c.seqs[3] == c.seqs[2] + 1);
    EXPECT(MMRING_OK, mmring_reader_drain(u, 100, MMRING_DRAIN_COPY, lap_in_drain, &c, &n));
    CHECK(c.seqs[c.calls - 1] == (long)c.next - 1);
    EXPECT(MMRING_OK, mmring_reader_drain(u, 0, MMRING_DRAIN_COPY, lap_in_drain, &c, &n));
    CHECK(n == 0);
    /* The writer goes: the drain, and the copying receives, say so. */
    EXPECT(MMRING_OK, mmring_writer_close(&w));
    EXPECT(MMRING_DISCONNECTED,
           mmring_reader_drain(u, 10, MMRING_DRAIN_COPY, lap_in_drain, &c, &n));
    EXPECT(MMRING_DISCONNECTED, mmring_reader_recv_copy(u, NULL, 0, &n));
    EXPECT(MMRING_OK, mmring_reader_close(&u));
    EXPECT(MMRING_OK, mmring_reader_close(&t));
}

static void test_readers_full(void) {
    mmring_options o = creating(4096, 2);
    mmring_writer *w = NULL;
    mmring_reader *a = NULL, *b = NULL, *c = (mmring_reader *)&o;
    EXPECT(MMRING_OK, mmring_writer_open(path_of("full"), &o, &w));
    o = reading(MMRING_READER_UNTETHERED, MMRING_START_DEFAULT);
    EXPECT(MMRING_OK, mmring_reader_open(path_of("full"), &o, &a));
    EXPECT(MMRING_OK, mmring_reader_open(path_of("full"), NULL, &b));
    EXPECT(MMRING_READERS_FULL, mmring_reader_open(path_of("full"), NULL, &c));
    CHECK(c == NULL);
    char pid[32];
    snprintf(pid, sizeof pid, "%d", (int)getpid());
    CHECK(strstr(mmring_last_error(), pid) != NULL);
    EXPECT(MMRING_READERS_FULL, mmring_reader_open(path_of("full"), &o, &c));
    /* mmring_inspect names each slot's holder. */
    mmring_ring_info info = {.struct_size = sizeof info};
    mmring_reader_info slots[2];
    EXPECT(MMRING_OK, mmring_inspect(path_of("full"), &info, slots, 2));
    CHECK(info.readers == 2);
    CHECK(slots[0].kind == MMRING_READER_UNTETHERED && slots[1].kind == MMRING_READER_TETHERED);
    CHECK(slots[0].side.pid == (uint32_t)getpid() && slots[0].side.alive == 1);
    /* A slot comes free when its reader closes. */
    EXPECT(MMRING_OK, mmring_reader_close(&a));
    EXPECT(MMRING_OK, mmring_reader_open(path_of("full"), NULL, &c));
    EXPECT(MMRING_OK, mmring_reader_close(&c));
    EXPECT(MMRING_OK, mmring_reader_close(&b));
    EXPECT(MMRING_OK, mmring_writer_close(&w));
    /* One slot: the older status, as before. */
    o = creating(4096, 1);
    EXPECT(MMRING_OK, mmring_writer_open(path_of("one"), &o, &w));
    EXPECT(MMRING_OK, mmring_reader_open(path_of("one"), NULL, &a));
    o = reading(MMRING_READER_UNTETHERED, MMRING_START_DEFAULT);
    EXPECT(MMRING_SIDE_TAKEN, mmring_reader_open(path_of("one"), &o, &b));
    EXPECT(MMRING_OK, mmring_reader_close(&a));
    EXPECT(MMRING_OK, mmring_writer_close(&w));
}

/* The next message of `r` (copied) must be message `seq`. */
static void expect_seq(mmring_reader *r, long seq) {
    char buf[MSG_LEN];
    size_t n = 0;
    EXPECT(MMRING_OK, mmring_reader_try_recv_copy(r, buf, sizeof buf, &n));
    CHECK(seq_of(buf, n) == seq);
}

static void test_start(void) {
    mmring_options o = creating(4096, 4);
    mmring_writer *w = NULL;
    mmring_reader *oldest = NULL, *next = NULL, *resume = NULL, *u_default = NULL;
    char m[MSG_LEN];
    size_t n;
    EXPECT(MMRING_OK, mmring_writer_open(path_of("start"), &o, &w));
    for (uint64_t i = 0; i < 2; i++) {
        message(i, m);
        EXPECT(MMRING_OK, mmring_writer_try_send(w, m, MSG_LEN));
    }
    o = reading(MMRING_READER_TETHERED, MMRING_START_OLDEST);
    EXPECT(MMRING_OK, mmring_reader_open(path_of("start"), &o, &oldest));
    o = reading(MMRING_READER_TETHERED, MMRING_START_NEXT);
    EXPECT(MMRING_OK, mmring_reader_open(path_of("start"), &o, &next));
    /* MMRING_START_DEFAULT of a tethered reader: resume its slot (never used: the start). */
    EXPECT(MMRING_OK, mmring_reader_open(path_of("start"), NULL, &resume));
    /* ... and of an untethered one: the next message. */
    o = reading(MMRING_READER_UNTETHERED, MMRING_START_DEFAULT);
    EXPECT(MMRING_OK, mmring_reader_open(path_of("start"), &o, &u_default));
    EXPECT(MMRING_EMPTY, mmring_reader_try_recv_copy(next, NULL, 0, &n));
    EXPECT(MMRING_EMPTY, mmring_reader_try_recv_copy(u_default, NULL, 0, &n));
    message(2, m);
    EXPECT(MMRING_OK, mmring_writer_try_send(w, m, MSG_LEN));
    expect_seq(oldest, 0);
    expect_seq(oldest, 1);
    expect_seq(oldest, 2);
    expect_seq(resume, 0);
    expect_seq(next, 2);
    expect_seq(u_default, 2);
    EXPECT(MMRING_OK, mmring_reader_close(&u_default));
    /* An untethered reader starting at the oldest message. */
    o = reading(MMRING_READER_UNTETHERED, MMRING_START_OLDEST);
    EXPECT(MMRING_OK, mmring_reader_open(path_of("start"), &o, &u_default));
    expect_seq(u_default, 0);
    EXPECT(MMRING_OK, mmring_reader_close(&u_default));
    EXPECT(MMRING_OK, mmring_reader_close(&oldest));
    EXPECT(MMRING_OK, mmring_reader_close(&next));
    EXPECT(MMRING_OK, mmring_reader_close(&resume));
    EXPECT(MMRING_OK, mmring_writer_close(&w));

    /* A tethered reader that resumes a slot the writer overwrote while it was away (a live
     * reader on the other slot let the writer go on): MMRING_LAPPED first, then the oldest
     * message still in the ring. */
    o = creating(1024, 2);
    mmring_reader *left = NULL, *live = NULL;
    EXPECT(MMRING_OK, mmring_writer_open(path_of("resume"), &o, &w));
    EXPECT(MMRING_OK, mmring_reader_open(path_of("resume"), NULL, &left));  /* slot 0 */
    EXPECT(MMRING_OK, mmring_reader_open(path_of("resume"), NULL, &live));  /* slot 1 */
    uint64_t sent = 0;
    send_and_consume(w, live, sent);
    expect_seq(left, (long)sent++);
    EXPECT(MMRING_OK, mmring_reader_close(&left));
    for (int i = 0; i < 3 * 1024 / 48; i++) send_and_consume(w, live, sent++);
    o = reading(MMRING_READER_TETHERED, MMRING_START_RESUME);
    EXPECT(MMRING_OK, mmring_reader_open(path_of("resume"), &o, &left)); /* slot 0 again */
    bool ready = false;
    EXPECT(MMRING_OK, mmring_reader_prepare_wait(left, &ready));
    CHECK(ready); /* a loss to report: no waiting */
    mmring_view v;
    EXPECT(MMRING_LAPPED, mmring_reader_try_recv(left, &v));
    uint64_t missed = 0, missed_messages = 0;
    EXPECT(MMRING_OK, mmring_reader_last_lap(left, &missed, &missed_messages));
    CHECK(missed > 0 && missed_messages == MMRING_UNKNOWN);
    EXPECT(MMRING_OK, mmring_reader_try_recv(left, &v));
    long seq = seq_of((const char *)v.data, v.len);
    CHECK(seq > 1 && seq < (long)sent);
    CHECK(missed >= (uint64_t)(seq - 1) * 48); /* the records skipped (and any padding) */
    EXPECT(MMRING_OK, mmring_reader_close(&left));
    EXPECT(MMRING_OK, mmring_reader_close(&live));
    EXPECT(MMRING_OK, mmring_writer_close(&w));
}

/* Version 1 of mmring_options, as a program compiled against the first header declares it. */
struct options_v1 {
    uint32_t struct_size, create;
    uint64_t capacity;
    uint32_t mode, wait_strategy;
    uint64_t init_timeout_ns;
    uint32_t group, flags, readers, reserved;
};
_Static_assert(sizeof(struct options_v1) == 48, "version 1 is 48 bytes");
_Static_assert(offsetof(mmring_options, reserved) == offsetof(struct options_v1, reserved),
               "version 2 appends");
_Static_assert(sizeof(mmring_options) == 56, "version 2 is 56 bytes");

static void test_options_versions(void) {
    /* An older program: a heap block of exactly 48 bytes (ASan catches a byte more), filled
     * by the function it linked against, then used to create and open. */
    struct options_v1 *old = malloc(sizeof *old);
    CHECK(old != NULL);
    if (old == NULL) return;
    memset(old, 0xa5, sizeof *old);
    EXPECT(MMRING_OK, (mmring_options_init)((mmring_options *)(void *)old));
    CHECK(old->struct_size == 48 && old->mode == 0600 && old->readers == 1 && old->reserved == 0);
    old->create = MMRING_CREATE;
    old->capacity = 4096;
    old->readers = 2;
    mmring_writer *w = NULL;
    mmring_reader *r = NULL;
    EXPECT(MMRING_OK, mmring_writer_open(path_of("v1"), (const mmring_options *)(void *)old, &w));
    EXPECT(MMRING_OK, mmring_create_unattached(path_of("v1-unattached"),
                                               (const mmring_options *)(void *)old));
    old->create = MMRING_OPEN_EXISTING;
    EXPECT(MMRING_OK, mmring_reader_open(path_of("v1"), (const mmring_options *)(void *)old, &r));
    bool untethered = true;
    EXPECT(MMRING_OK, mmring_reader_is_untethered(r, &untethered));
    CHECK(!untethered); /* the fields it does not have take their defaults */
    EXPECT(MMRING_OK, mmring_reader_close(&r));
    EXPECT(MMRING_OK, mmring_writer_close(&w));
    EXPECT(MMRING_OK, mmring_options_init_sized((mmring_options *)(void *)old, sizeof *old));
    CHECK(old->struct_size == 48 && old->create == MMRING_OPEN_EXISTING);
    free(old);

    /* A version-2 struct whose struct_size says version 1: the new fields are not read. */
    mmring_options o;
    mmring_options_init(&o);
    CHECK(o.struct_size == sizeof o);
    o.struct_size = 48;
    o.reader_kind = 99;
    o.start = 99;
    EXPECT(MMRING_OK, mmring_reader_open(path_of("v1"), &o, &r));
    EXPECT(MMRING_OK, mmring_reader_close(&r));
    /* Sizes between versions and below version 1. */
    o.struct_size = 47;
    EXPECT(MMRING_INVALID_ARGUMENT, mmring_reader_open(path_of("v1"), &o, &r));
    CHECK(r == NULL);

    /* A newer program: a larger struct, its unknown fields zeroed by init_sized. */
    struct {
        mmring_options o;
        uint64_t future[2];
    } newer;
    memset(&newer, 0xff, sizeof newer);
    EXPECT(MMRING_OK, mmring_options_init_sized(&newer.o, sizeof newer));
    CHECK(newer.o.struct_size == sizeof newer && newer.future[0] == 0 && newer.future[1] == 0);
    CHECK(newer.o.reader_kind == MMRING_READER_TETHERED && newer.o.start == MMRING_START_DEFAULT);
    newer.o.reader_kind = MMRING_READER_UNTETHERED;
    EXPECT(MMRING_OK, mmring_reader_open(path_of("v1"), &newer.o, &r));
    EXPECT(MMRING_OK, mmring_reader_is_untethered(r, &untethered));
    CHECK(untethered);
    EXPECT(MMRING_OK, mmring_reader_close(&r));
    newer.future[1] = 1; /* something this library does not know: refused */
    EXPECT(MMRING_INVALID_ARGUMENT, mmring_reader_open(path_of("v1"), &newer.o, &r));

    /* A zeroed struct with only struct_size set: 0 is the default of the new fields. */
    mmring_options zero = {.struct_size = sizeof zero, .readers = 1};
    EXPECT(MMRING_OK, mmring_reader_open(path_of("v1"), &zero, &r));
    EXPECT(MMRING_OK, mmring_reader_is_untethered(r, &untethered));
    CHECK(!untethered);
    EXPECT(MMRING_OK, mmring_reader_close(&r));
}

/* Waits for `fd` to become readable, up to `ms`: 1 if it did. */
static int readable(int fd, int ms) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int n = poll(&p, 1, ms);
    return n == 1 && (p.revents & POLLIN);
}

static void test_readiness(void) {
    mmring_options o = creating(1024, 2);
    mmring_writer *w = NULL;
    mmring_reader *r = NULL, *u = NULL;
    EXPECT(MMRING_OK, mmring_writer_open(path_of("ready"), &o, &w));
    EXPECT(MMRING_OK, mmring_reader_open(path_of("ready"), NULL, &r));
    o = reading(MMRING_READER_UNTETHERED, MMRING_START_DEFAULT);
    EXPECT(MMRING_OK, mmring_reader_open(path_of("ready"), &o, &u));
    int rfd = -1, rfd2 = -1, ufd = -1, wfd = -1;
    EXPECT(MMRING_OK, mmring_reader_readiness_fd(r, &rfd));
    EXPECT(MMRING_OK, mmring_reader_readiness_fd(r, &rfd2));
    EXPECT(MMRING_OK, mmring_reader_readiness_fd(u, &ufd));
    EXPECT(MMRING_OK, mmring_writer_readiness_fd(w, &wfd));
    CHECK(rfd >= 0 && rfd == rfd2 && ufd >= 0 && wfd >= 0 && rfd != ufd && rfd != wfd);

    /* Readers: armed on an empty ring, not readable; a message makes both readable. */
    bool ready = true;
    EXPECT(MMRING_OK, mmring_reader_prepare_wait(r, &ready));
    CHECK(!ready);
    EXPECT(MMRING_OK, mmring_reader_prepare_wait(u, &ready));
    CHECK(!ready);
    CHECK(!readable(rfd, 0));
    char m[MSG_LEN], buf[MSG_LEN];
    size_t n;
    message(0, m);
    EXPECT(MMRING_OK, mmring_writer_try_send(w, m, MSG_LEN));
    CHECK(readable(rfd, 5000));
    CHECK(readable(ufd, 5000));
    EXPECT(MMRING_OK, mmring_reader_finish_wait(r));
    EXPECT(MMRING_OK, mmring_reader_finish_wait(u));
    EXPECT(MMRING_OK, mmring_reader_finish_wait(u)); /* harmless when not armed */
    EXPECT(MMRING_OK, mmring_reader_try_recv_copy(r, buf, sizeof buf, &n));
    EXPECT(MMRING_OK, mmring_reader_try_recv_copy(u, buf, sizeof buf, &n));
    CHECK(seq_of(buf, n) == 0);
    /* Something to receive already: no need to wait (and not armed). */
    EXPECT(MMRING_OK, mmring_writer_try_send(w, m, MSG_LEN));
    EXPECT(MMRING_OK, mmring_reader_prepare_wait(r, &ready));
    CHECK(ready);
    /* An open view is consumed by prepare_wait, as by a receive. */
    mmring_view v;
    EXPECT(MMRING_OK, mmring_reader_try_recv(r, &v));
    EXPECT(MMRING_OK, mmring_reader_prepare_wait(r, &ready));
    CHECK(!ready);
    EXPECT(MMRING_WRONG_STATE, mmring_reader_release_view(r, &v));
    EXPECT(MMRING_OK, mmring_reader_finish_wait(r));
    EXPECT(MMRING_OK, mmring_reader_try_recv_copy(u, buf, sizeof buf, &n));

    /* The writer: room now; a full ring arms it, and the tethered reader's release wakes it. */
    EXPECT(MMRING_OK, mmring_writer_prepare_wait(w, MSG_LEN, &ready));
    CHECK(ready);
    EXPECT(MMRING_OK, mmring_writer_prepare_wait(w, 100000, &ready));
    CHECK(ready); /* too large: sending fails at once, no waiting */
    int sent = 0;
    while (mmring_writer_try_send(w, m, MSG_LEN) == MMRING_OK) sent++;
    CHECK(sent > 10);
    EXPECT(MMRING_OK, mmring_writer_prepare_wait(w, MSG_LEN, &ready));
    CHECK(!ready);
    CHECK(!readable(wfd, 0));
    while (mmring_reader_try_recv_copy(r, buf, sizeof buf, &n) == MMRING_OK) sent--;
    EXPECT(MMRING_OK, mmring_reader_release(r));
    CHECK(sent == 0);
    CHECK(readable(wfd, 5000));
    EXPECT(MMRING_OK, mmring_writer_finish_wait(w));
    EXPECT(MMRING_OK, mmring_writer_try_send(w, m, MSG_LEN));

    /* The writer goes: an armed reader wakes and finds it gone. */
    while (mmring_reader_try_recv_copy(r, buf, sizeof buf, &n) == MMRING_OK) {
    }
    EXPECT(MMRING_OK, mmring_reader_prepare_wait(r, &ready));
    CHECK(!ready);
    EXPECT(MMRING_OK, mmring_writer_close(&w));
    CHECK(readable(rfd, 5000));
    EXPECT(MMRING_OK, mmring_reader_finish_wait(r));
    EXPECT(MMRING_DISCONNECTED, mmring_reader_try_recv_copy(r, buf, sizeof buf, &n));
    EXPECT(MMRING_OK, mmring_reader_prepare_wait(r, &ready));
    CHECK(ready); /* an error to report: no waiting */
    /* The descriptors stay the handle's until it closes. */
    EXPECT(MMRING_OK, mmring_reader_readiness_fd(r, &rfd2));
    CHECK(rfd2 == rfd);
    EXPECT(MMRING_OK, mmring_reader_close(&r));
    EXPECT(MMRING_OK, mmring_reader_close(&u));
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: fanout DIR\n");
        return 2;
    }
    snprintf(dir, sizeof dir, "%s", argv[1]);
    test_untethered_lapped();
    test_drain_untethered();
    test_readers_full();
    test_start();
    test_options_versions();
    test_readiness();
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
