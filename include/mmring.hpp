// mmring.hpp: a thin, header-only C++20 wrapper over the C API in mmring.h.
//
// RAII handles (move-only; the destructor closes), std::span views, exceptions for errors and
// plain return values for the expected outcomes (empty, full, timed out, writer gone):
//
//     auto w = mmring::writer::open_or_create("/dev/shm/demo", 1 << 20);
//     w.send(std::as_bytes(std::span{"hello", 5}));
//     auto r = mmring::reader::open("/dev/shm/demo");
//     if (auto m = r.recv()) use(*m);        // std::span<const std::byte>, until the next recv
//
// An untethered (lossy) reader is a `reader` too (reader::open_untethered): it receives with
// the copying calls only. Both ends expose their readiness handle (readiness_fd,
// prepare_wait, finish_wait) for poll(2) or an event loop, as in docs/C-API.md.
//
// Everything here is inline over the C functions: link libmmring as for C. The rules of the C
// API hold (docs/C-API.md): a handle is used by one thread at a time; a view lives until the
// next receive on its reader; zero-copy views are sound only while the writer follows the
// protocol (use recv_copy against an untrusted writer).
#ifndef MMRING_HPP
#define MMRING_HPP

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "mmring.h"

namespace mmring {

using bytes = std::span<const std::byte>;

// A failure of the C API: its status and the thread's last error message.
class error : public std::runtime_error {
  public:
    explicit error(mmring_status s)
        : std::runtime_error(std::string(mmring_status_name(s)) + ": " + mmring_last_error()),
          status_(s) {}
    mmring_status status() const noexcept { return status_; }

  private:
    mmring_status status_;
};

// Throws unless `s` is MMRING_OK or one of `ok` (returned).
inline mmring_status check(mmring_status s, std::initializer_list<mmring_status> ok = {}) {
    if (s == MMRING_OK) return s;
    for (mmring_status o : ok)
        if (s == o) return s;
    throw error(s);
}

inline uint64_t nanos(std::chrono::nanoseconds d) {
    return d.count() < 0 ? 0 : static_cast<uint64_t>(d.count());
}

class writer {
  public:
    // Attaches as the writer of the ring at `path`, as `opts` says (null: open existing).
    static writer open(const char *path, const mmring_options *opts = nullptr) {
        writer w;
        check(mmring_writer_open(path, opts, &w.h_));
        return w;
    }
    static writer open_or_create(const char *path, uint64_t capacity) {
        writer w;
        check(mmring_writer_open_or_create(path, capacity, &w.h_));
        return w;
    }

    writer(writer &&o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
    writer &operator=(writer &&o) noexcept {
        if (this != &o) {
            mmring_writer_close(&h_);
            h_ = std::exchange(o.h_, nullptr);
        }
        return *this;
    }
    ~writer() { mmring_writer_close(&h_); }

    // Room for one message, filled in place; commit() publishes it, destruction abandons it.
    class grant {
      public:
        grant(grant &&o) noexcept : w_(std::exchange(o.w_, nullptr)), g_(o.g_) {}
        grant &operator=(grant &&) = delete;
        ~grant() {
            if (w_) mmring_writer_abort(w_, &g_);
        }
        std::span<std::byte> data() const noexcept {
            return {reinterpret_cast<std::byte *>(g_.data), g_.len};
        }
        // Publishes the first `len` bytes (all of them by default).
        void commit(std::optional<size_t> len = std::nullopt) {
            check(mmring_writer_commit(w_, &g_, len.value_or(g_.len)));
            w_ = nullptr;
        }

      private:
        friend class writer;
        grant(mmring_writer *w, mmring_grant g) : w_(w), g_(g) {}
        mmring_writer *w_;
        mmring_grant g_;
    };

    // false if the ring is full now.
    bool try_send(bytes m) {
        return check(mmring_writer_try_send(h_, m.data(), m.size()), {MMRING_FULL}) == MMRING_OK;
    }
    // Waits for room; throws mmring::error (MMRING_DISCONNECTED...) if it cannot send.
    void send(bytes m) { check(mmring_writer_send(h_, m.data(), m.size())); }
    // false on timeout.
    bool send_for(bytes m, std::chrono::nanoseconds timeout) {
        return check(mmring_writer_send_timeout(h_, m.data(), m.size(), nanos(timeout)),
                     {MMRING_TIMEOUT}) == MMRING_OK;
    }
    grant reserve(size_t len) {
        mmring_grant g;
        check(mmring_writer_reserve(h_, len, &g));
        return grant(h_, g);
    }
    // nullopt if the ring is full now.
    std::optional<grant> try_reserve(size_t len) {
        mmring_grant g;
        if (check(mmring_writer_try_reserve(h_, len, &g), {MMRING_FULL}) != MMRING_OK)
            return std::nullopt;
        return grant(h_, g);
    }

    size_t capacity() const { return get_size(mmring_writer_capacity); }
    size_t max_message_len() const { return get_size(mmring_writer_max_message_len); }
    bool is_reader_alive() {
        bool alive = false;
        check(mmring_writer_is_reader_alive(h_, &alive));
        return alive;
    }

    // The readiness handle (owned by the writer, valid until it closes): wait for POLLIN.
    int readiness_fd() {
        int fd = -1;
        check(mmring_writer_readiness_fd(h_, &fd));
        return fd;
    }
    // true: a `len`-byte message fits now (or sending would fail at once): do not wait.
    // false: armed; wait for the fd, then finish_wait() and try again.
    bool prepare_wait(size_t len) {
        bool ready = false;
        check(mmring_writer_prepare_wait(h_, len, &ready));
        return ready;
    }
    void finish_wait() { check(mmring_writer_finish_wait(h_)); }
    mmring_writer *get() const noexcept { return h_; }

  private:
    writer() = default;
    size_t get_size(mmring_status (*f)(const mmring_writer *, size_t *)) const {
        size_t n = 0;
        check(f(h_, &n));
        return n;
    }
    mmring_writer *h_ = nullptr;
};

class reader {
  public:
    static reader open(const char *path, const mmring_options *opts = nullptr) {
        reader r;
        check(mmring_reader_open(path, opts, &r.h_));
        return r;
    }
    static reader open_or_create(const char *path, uint64_t capacity) {
        reader r;
        check(mmring_reader_open_or_create(path, capacity, &r.h_));
        return r;
    }
    // An untethered reader of the existing ring at `path` (lossy, never holds the writer
    // back), starting as `start` says (MMRING_START_DEFAULT: at the next message).
    static reader open_untethered(const char *path, mmring_start start = MMRING_START_DEFAULT) {
        mmring_options o;
        mmring_options_init(&o);
        o.reader_kind = MMRING_READER_UNTETHERED;
        o.start = start;
        return open(path, &o);
    }

    reader(reader &&o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
    reader &operator=(reader &&o) noexcept {
        if (this != &o) {
            mmring_reader_close(&h_);
            h_ = std::exchange(o.h_, nullptr);
        }
        return *this;
    }
    ~reader() { mmring_reader_close(&h_); }

    // The next message in place, valid until the next receive on this reader; nullopt once the
    // writer has gone and everything it committed has been received.
    std::optional<bytes> recv() { return view(mmring_reader_recv(h_, &v_), {MMRING_DISCONNECTED}); }
    // nullopt on timeout or when the writer has gone (status() tells which).
    std::optional<bytes> recv_for(std::chrono::nanoseconds timeout) {
        return view(mmring_reader_recv_timeout(h_, nanos(timeout), &v_),
                    {MMRING_TIMEOUT, MMRING_DISCONNECTED});
    }
    // nullopt when empty now or when the writer has gone (status() tells which).
    std::optional<bytes> try_recv() {
        return view(mmring_reader_try_recv(h_, &v_), {MMRING_EMPTY, MMRING_DISCONNECTED});
    }
    // A copy of the next message (sound against any writer); nullopt once the writer has gone,
    // or when messages were lost (status() == MMRING_LAPPED, last_lap() says how much: call
    // again for the next intact one).
    std::optional<std::vector<std::byte>> recv_copy() { return copy(mmring_reader_recv_copy); }
    // As recv_copy without waiting: also nullopt when empty now (status() == MMRING_EMPTY).
    std::optional<std::vector<std::byte>> try_recv_copy() {
        return copy(mmring_reader_try_recv_copy);
    }
    // What the last MMRING_LAPPED reported: bytes missed, and messages (MMRING_UNKNOWN if not
    // known).
    std::pair<uint64_t, uint64_t> last_lap() const {
        uint64_t bytes = 0, messages = 0;
        check(mmring_reader_last_lap(h_, &bytes, &messages));
        return {bytes, messages};
    }
    bool is_untethered() const {
        bool u = false;
        check(mmring_reader_is_untethered(h_, &u));
        return u;
    }

    // The readiness handle (owned by the reader, valid until it closes): wait for POLLIN.
    int readiness_fd() {
        int fd = -1;
        check(mmring_reader_readiness_fd(h_, &fd));
        return fd;
    }
    // true: something to receive now (or an error to report): do not wait. false: armed; wait
    // for the fd, then finish_wait() and receive.
    bool prepare_wait() {
        bool ready = false;
        check(mmring_reader_prepare_wait(h_, &ready));
        return ready;
    }
    void finish_wait() { check(mmring_reader_finish_wait(h_)); }
    // Hands up to `max` messages to `f(bytes)` (in place, or copied with MMRING_DRAIN_COPY),
    // returns how many; 0 when empty, the writer has gone or messages were lost (status()
    // tells which; an untethered reader needs MMRING_DRAIN_COPY). An exception thrown by `f` stops
    // the drain and is rethrown here (it never crosses the C library).
    template <class F> size_t drain(size_t max, F &&f, uint32_t flags = 0) {
        struct ctx {
            F *f;
            std::exception_ptr e;
        } c{&f, nullptr};
        auto tramp = [](void *user, const uint8_t *data, size_t len) -> int32_t {
            auto *c = static_cast<ctx *>(user);
            try {
                (*c->f)(bytes(reinterpret_cast<const std::byte *>(data), len));
                return 0;
            } catch (...) {
                c->e = std::current_exception();
                return 1;
            }
        };
        size_t n = 0;
        last_ = check(mmring_reader_drain(h_, max, flags, tramp, &c, &n),
                      {MMRING_EMPTY, MMRING_DISCONNECTED, MMRING_LAPPED});
        if (c.e) std::rethrow_exception(c.e);
        return n;
    }
    // The status of the last receive that returned nullopt or 0 (MMRING_OK otherwise).
    mmring_status status() const noexcept { return last_; }

    size_t pending() const {
        size_t n = 0;
        check(mmring_reader_pending(h_, &n));
        return n;
    }
    mmring_reader *get() const noexcept { return h_; }

  private:
    reader() = default;
    using copy_fn = mmring_status (*)(mmring_reader *, void *, size_t, size_t *);
    std::optional<std::vector<std::byte>> copy(copy_fn f) {
        std::vector<std::byte> buf(64);
        for (;;) {
            size_t len = 0;
            last_ = check(f(h_, buf.data(), buf.size(), &len),
                          {MMRING_BUFFER_TOO_SMALL, MMRING_DISCONNECTED, MMRING_LAPPED,
                           MMRING_EMPTY});
            if (last_ != MMRING_OK && last_ != MMRING_BUFFER_TOO_SMALL) return std::nullopt;
            buf.resize(len);
            if (last_ == MMRING_OK) return buf;
        }
    }
    std::optional<bytes> view(mmring_status s, std::initializer_list<mmring_status> ok) {
        last_ = check(s, ok);
        if (last_ != MMRING_OK) return std::nullopt;
        return bytes(reinterpret_cast<const std::byte *>(v_.data), v_.len);
    }
    mmring_reader *h_ = nullptr;
    mmring_view v_{};
    mmring_status last_ = MMRING_OK;
};

} // namespace mmring

#endif // MMRING_HPP
