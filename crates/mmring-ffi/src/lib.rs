//! The C ABI of mmring: `libmmring.so` and `libmmring.a`, declared by `include/mmring.h`
//! (generated from this crate by cbindgen; `cargo run -p mmring-ffi --example gen_header`
//! rewrites it, and the test `header` fails when the committed copy is stale).
//!
//! Every function wraps the public API of the `mmring` crate. The rules of the boundary, all
//! enforced in [`boundary`]:
//!
//! - **Opaque handles** ([`writer::WriterHandle`], [`reader::ReaderHandle`]), freed by
//!   `*_close(&handle)`, which also nulls the caller's pointer. Each handle carries a magic word
//!   (a reader passed as a writer, a null pointer, a closed handle whose memory has not been
//!   reused are refused with `MMRING_INVALID_HANDLE`) and a busy flag (a second thread, or a
//!   drain callback re-entering the same handle, gets `MMRING_BUSY` instead of a data race).
//! - **One status enum** ([`status::Status`]) with stable explicit values is what every
//!   function returns; a per-thread message says more (`mmring_last_error`).
//! - **No panic crosses**: every entry point runs under `catch_unwind`; a caught panic is
//!   reported as `MMRING_PANIC` and leaves the handle unusable except for closing.
//! - **Only `#[repr(C)]` structs defined here cross** (options, grants, views, inspect
//!   results), with fixed-width fields; no Rust type's layout is exposed.
//!
//! See `docs/C-API.md` for the contract and the ABI stability promise.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    clippy::undocumented_unsafe_blocks
)]

pub mod boundary;
pub mod info;
pub mod options;
pub mod reader;
pub mod status;
pub mod writer;

/// The version of the C ABI this library implements. Incremented only by an incompatible
/// change (which the stability promise in `docs/C-API.md` rules out within a major version);
/// additions keep it.
pub const MMRING_ABI_VERSION: u32 = 1;

/// The version of the C ABI this library implements ([`MMRING_ABI_VERSION`] of the header it
/// was built with). Compare it with `MMRING_ABI_VERSION` to check that the library loaded at
/// run time is the one compiled against. Cannot fail.
#[no_mangle]
pub extern "C" fn mmring_abi_version() -> u32 {
    MMRING_ABI_VERSION
}
