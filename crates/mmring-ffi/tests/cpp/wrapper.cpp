// The C++ wrapper (include/mmring.hpp) end to end in one process: RAII handles, spans, grants,
// exceptions for errors, optionals for the expected outcomes, drain with an exception thrown by
// the callback. Usage: wrapper DIR. Ends with "N passed, M failed".
#include <cstdio>
#include <cstring>
#include <string>

#include "mmring.hpp"

static int passed, failed;
#define CHECK(cond)                                                                        \
    do {                                                                                   \
        if (cond) {                                                                        \
            passed++;                                                                      \
        } else {                                                                           \
            failed++;                                                                      \
            std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);  \
        }                                                                                  \
    } while (0)

static mmring::bytes text(const char *s) { return std::as_bytes(std::span(s, std::strlen(s))); }
static bool equals(mmring::bytes b, const char *s) {
    return b.size() == std::strlen(s) && std::memcmp(b.data(), s, b.size()) == 0;
}

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    std::string path = std::string(argv[1]) + "/ring";
    {
        auto w = mmring::writer::open_or_create(path.c_str(), 4096);
        auto r = mmring::reader::open(path.c_str());
        CHECK(w.capacity() == 4096 && w.max_message_len() == 2040 && w.is_reader_alive());
        CHECK(w.try_send(text("hello")));
        w.send(text("world"));
        auto g = w.reserve(16);
        std::memcpy(g.data().data(), "zero-copy", 9);
        g.commit(9);
        { auto abandoned = w.reserve(8); } // destroyed uncommitted: publishes nothing
        auto m = r.recv();
        CHECK(m && equals(*m, "hello"));
        m = r.try_recv();
        CHECK(m && equals(*m, "world"));
        auto c = r.recv_copy();
        CHECK(c && c->size() == 9 && std::memcmp(c->data(), "zero-copy", 9) == 0);
        CHECK(!r.try_recv() && r.status() == MMRING_EMPTY);
        CHECK(!r.recv_for(std::chrono::milliseconds(1)) && r.status() == MMRING_TIMEOUT);

        // Errors are exceptions with the status and the message.
        std::vector<std::byte> big(3000);
        try {
            w.send(big);
            CHECK(false);
        } catch (const mmring::error &e) {
            CHECK(e.status() == MMRING_TOO_LARGE && std::strstr(e.what(), "3000") != nullptr);
        }
        try {
            mmring::reader::open((path + "-missing").c_str());
            CHECK(false);
        } catch (const mmring::error &e) {
            CHECK(e.status() == MMRING_NOT_FOUND);
        }

        // Drain; an exception from the callback comes back out of drain, not through C.
        for (int i = 0; i < 4; i++) w.send(text("abcd"));
        size_t seen = 0;
        CHECK(r.drain(2, [&](mmring::bytes b) { seen += b.size(); }) == 2 && seen == 8);
        try {
            r.drain(10, [](mmring::bytes) { throw std::runtime_error("stop"); });
            CHECK(false);
        } catch (const std::runtime_error &e) {
            CHECK(std::string(e.what()) == "stop");
        }
        CHECK(r.drain(10, [&](mmring::bytes) {}, MMRING_DRAIN_COPY) == 1);
        CHECK(r.pending() == 0);

        // Moving a handle moves ownership; the writer goes, the reader sees it.
        mmring::writer w2 = std::move(w);
        w2.send(text("last"));
        { mmring::writer gone = std::move(w2); }
        m = r.recv();
        CHECK(m && equals(*m, "last"));
        CHECK(!r.recv() && r.status() == MMRING_DISCONNECTED);
    }
    {
        // Fan-out: an untethered reader next to a tethered one, lapped; readiness handles.
        mmring_options o;
        mmring_options_init(&o);
        o.create = MMRING_CREATE;
        o.capacity = 1024;
        o.readers = 2;
        std::string fan = path + "-fanout";
        auto w = mmring::writer::open(fan.c_str(), &o);
        auto t = mmring::reader::open(fan.c_str());
        auto u = mmring::reader::open_untethered(fan.c_str());
        CHECK(u.is_untethered() && !t.is_untethered());
        CHECK(!u.try_recv_copy() && u.status() == MMRING_EMPTY);
        CHECK(!u.prepare_wait());
        w.send(text("wake"));
        u.finish_wait();
        auto c = u.try_recv_copy();
        CHECK(c && c->size() == 4);
        CHECK(t.recv_copy());
        std::vector<std::byte> m(100);
        for (int i = 0; i < 40; i++) { // 40 x 112 bytes: round the ring four times
            w.send(m);
            CHECK(t.recv_copy());
        }
        CHECK(!u.recv_copy() && u.status() == MMRING_LAPPED && u.last_lap().first > 0);
        c = u.recv_copy();
        CHECK(c && c->size() == 100);
        try {
            u.recv();
            CHECK(false);
        } catch (const mmring::error &e) {
            CHECK(e.status() == MMRING_UNSUPPORTED);
        }
        CHECK(w.readiness_fd() >= 0 && u.readiness_fd() >= 0 && w.prepare_wait(8));
        w.finish_wait();
    }
    std::printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
