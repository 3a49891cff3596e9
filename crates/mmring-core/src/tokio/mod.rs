//! Rings in a tokio runtime (the `tokio` cargo feature): [`AsyncReader`],
//! [`AsyncUntetheredReader`] and [`AsyncWriter`] wait on the side's readiness handle
//! ([`Readiness`](crate::Readiness)) registered with the runtime's reactor, instead of
//! blocking a thread.
//!
//! The fast path is the blocking API's: a receive that finds a message, or a send that finds
//! room, makes no system call and never touches the reactor. Only a side that finds nothing to
//! do arms its doorbell (after which the peer makes one wake-up system call per publication
//! or release) and returns `Pending`; the task is woken when the peer makes progress, when a
//! peer process exits (through its pidfd, within milliseconds), and once a second for a
//! backstop check of the peer's lock. An idle async side therefore costs at most one wake-up a
//! second.
//!
//! Timeouts come from tokio: `tokio::time::timeout(d, reader.recv_vec())`. Every method here is
//! cancellation safe in the sense stated on it: a future dropped before it completed has taken
//! no message and holds no space, and the side stops asking to be woken.
//!
//! Both the current-thread and the multi-thread runtime work; the types are `Send`, so they
//! can move into spawned tasks. Each needs a runtime with I/O enabled when it is made
//! (`enable_io` or `enable_all`). Other executors use the runtime-agnostic protocol the types
//! here are built on: register [`Reader::readiness`] with the executor's reactor, call
//! [`Reader::prepare_wait`], wait for readability, then [`Reader::finish_wait`] and try again.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
//! let (mut w, r) = mmring_core::anonymous(4096)?;
//! let mut r = mmring_core::tokio::AsyncReader::new(r)?;
//! let task = tokio::spawn(async move { r.recv_vec().await });
//! w.send(b"to the task")?;
//! assert_eq!(task.await??, b"to the task");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod wait;

use crate::error::{RecvError, SendError};
use crate::handle::{Handle, Readiness};
use crate::reader::{self, Message, Reader};
use crate::ring::Peeked;
use crate::untethered::{self, Event, UntetheredReader};
use crate::writer::{Grant, Writer};
use ::tokio::io::unix::AsyncFd;
use futures_core::Stream;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use wait::{disarm, poll_block};

/// Registers a side's readiness handle with the current runtime's reactor.
fn register(ready: io::Result<Readiness>) -> io::Result<AsyncFd<Readiness>> {
    crate::os::reactor::register(ready?)
}

/// An async side: the handle its waits arm.
trait Side {
    fn handle(&mut self) -> &mut Handle;
}

impl Side for Handle {
    fn handle(&mut self) -> &mut Handle {
        self
    }
}

impl Side for AsyncReader {
    fn handle(&mut self) -> &mut Handle {
        &mut self.inner.h
    }
}

impl Side for AsyncUntetheredReader {
    fn handle(&mut self) -> &mut Handle {
        &mut self.inner.h
    }
}

/// Disarms a side when the future that armed it is dropped before it completed.
struct Armed<'a, S: Side>(&'a mut S);

impl<S: Side> Drop for Armed<'_, S> {
    fn drop(&mut self) {
        disarm(self.0.handle());
    }
}

/// A [`Reader`] waiting in a tokio runtime.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
/// use mmring_core::tokio::AsyncReader;
/// let (mut w, r) = mmring_core::anonymous(4096)?;
/// let mut r = AsyncReader::new(r)?;
/// w.send(b"zero-copy")?;
/// assert_eq!(&*r.recv().await?, b"zero-copy");
/// drop(w);
/// assert_eq!(r.recv_vec().await, Err(mmring_core::RecvError::Disconnected));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct AsyncReader {
    inner: Reader,
    fd: AsyncFd<Readiness>,
    /// The stream has ended (the writer has gone, or the ring is corrupt).
    ended: bool,
}

impl AsyncReader {
    /// Registers `reader`'s readiness handle with the current tokio runtime.
    ///
    /// # Errors
    /// As [`Reader::readiness`], and the reactor's registration.
    ///
    /// # Panics
    /// Outside a tokio runtime with I/O enabled, as tokio's own I/O types.
    pub fn new(mut reader: Reader) -> io::Result<AsyncReader> {
        let fd = register(reader.readiness())?;
        Ok(AsyncReader {
            inner: reader,
            fd,
            ended: false,
        })
    }

    /// The reader, for its non-blocking and inspection methods.
    pub fn get_ref(&self) -> &Reader {
        &self.inner
    }

    /// The reader, for its non-blocking methods (`try_recv`, `batch`, `drain`).
    pub fn get_mut(&mut self) -> &mut Reader {
        &mut self.inner
    }

    /// Unregisters the readiness handle and gives the reader back.
    pub fn into_inner(mut self) -> Reader {
        disarm(&mut self.inner.h);
        self.inner
    }

    /// Waits for the next message: the slot's lap report, a validated record, or the reason
    /// there is none. Takes nothing from the ring.
    fn poll_peek(&mut self, cx: &mut Context<'_>) -> Poll<Result<Peeked, RecvError>> {
        if let Some(p) = self.inner.recv_start()? {
            disarm(&mut self.inner.h);
            return Poll::Ready(Ok(p));
        }
        let r = &mut self.inner;
        let cons = &mut r.cons;
        match poll_block(&mut r.h, &self.fd, cx, |h| reader::poll(cons, h, false)) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(p)) => Poll::Ready(Ok(p)),
            Poll::Ready(Err(b)) => Poll::Ready(Err(r.blocked(b))),
        }
    }

    /// Waits for the next message without taking it; a dropped wait stops asking to be woken.
    async fn peek(&mut self) -> Result<Peeked, RecvError> {
        let this = Armed(self);
        poll_fn(|cx| this.0.poll_peek(cx)).await
    }

    /// Waits for the next message and lends it in place (zero-copy, with the precondition
    /// stated on [`Reader`]); it is consumed when the [`Message`] drops.
    ///
    /// Cancellation safe: the message is taken only when the returned `Message` drops, so a
    /// dropped future loses nothing.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    /// # let (mut w, r) = mmring_core::anonymous(4096)?;
    /// let mut r = mmring_core::tokio::AsyncReader::new(r)?;
    /// w.send(b"in place")?;
    /// let msg = r.recv().await?;
    /// assert_eq!(msg.len(), 8);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Reader::recv`], and [`RecvError::Reactor`].
    pub async fn recv(&mut self) -> Result<Message<'_>, RecvError> {
        let p = self.peek().await?;
        Ok(self.inner.message(p))
    }

    /// Waits for the next message and copies it out (sound against any peer).
    ///
    /// Cancellation safe: the message is copied and taken in the poll that completes the
    /// future, so a dropped future loses nothing.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?.block_on(async {
    /// # let (mut w, r) = mmring_core::anonymous(4096)?;
    /// let mut r = mmring_core::tokio::AsyncReader::new(r)?;
    /// w.send(b"copied")?;
    /// assert_eq!(r.recv_vec().await?, b"copied");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`AsyncReader::recv`].
    pub async fn recv_vec(&mut self) -> Result<Vec<u8>, RecvError> {
        let p = self.peek().await?;
        Ok(self.inner.message(p).to_vec())
    }
}

/// The messages, copied out, until the writer has gone: `Some(Err(_))` for a lap report
/// (the stream goes on) and for corruption (the stream then ends).
///
/// Cancellation safe: a message is taken only in the poll that yields it.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
/// use futures_core::Stream;
/// let (mut w, r) = mmring_core::anonymous(4096)?;
/// for i in 0u8..3 { w.send(&[i])?; }
/// drop(w);
/// let mut r = mmring_core::tokio::AsyncReader::new(r)?;
/// let mut seen = Vec::new();
/// while let Some(m) = std::future::poll_fn(|cx| std::pin::Pin::new(&mut r).poll_next(cx)).await {
///     seen.push(m?[0]);
/// }
/// assert_eq!(seen, [0, 1, 2]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl Stream for AsyncReader {
    type Item = Result<Vec<u8>, RecvError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.ended {
            return Poll::Ready(None);
        }
        match this.poll_peek(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(p)) => Poll::Ready(Some(Ok(this.inner.message(p).to_vec()))),
            Poll::Ready(Err(e)) => stream_error(&mut this.ended, e),
        }
    }
}

/// How a message stream reports an error: a lap goes on, a disconnect ends it quietly,
/// anything else is reported once and ends it.
fn stream_error<T>(ended: &mut bool, e: RecvError) -> Poll<Option<Result<T, RecvError>>> {
    match e {
        RecvError::Lapped { .. } => Poll::Ready(Some(Err(e))),
        RecvError::Disconnected => {
            *ended = true;
            Poll::Ready(None)
        }
        e => {
            *ended = true;
            Poll::Ready(Some(Err(e)))
        }
    }
}

/// An [`UntetheredReader`] waiting in a tokio runtime.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
/// # let path = std::env::temp_dir().join(format!("mmring-doc-auntethered-{}", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// let mut w = mmring_core::Writer::create(&path, 4096)?;
/// let r = mmring_core::UntetheredReader::open(&path)?;
/// let mut r = mmring_core::tokio::AsyncUntetheredReader::new(r)?;
/// w.send(b"lossy")?;
/// assert_eq!(r.recv_vec().await?, b"lossy");
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct AsyncUntetheredReader {
    inner: UntetheredReader,
    fd: AsyncFd<Readiness>,
    ended: bool,
}

impl AsyncUntetheredReader {
    /// Registers `reader`'s readiness handle with the current tokio runtime.
    ///
    /// # Errors
    /// As [`UntetheredReader::readiness`], and the reactor's registration.
    ///
    /// # Panics
    /// Outside a tokio runtime with I/O enabled.
    pub fn new(mut reader: UntetheredReader) -> io::Result<AsyncUntetheredReader> {
        let fd = register(reader.readiness())?;
        Ok(AsyncUntetheredReader {
            inner: reader,
            fd,
            ended: false,
        })
    }

    /// The reader.
    pub fn get_ref(&self) -> &UntetheredReader {
        &self.inner
    }

    /// The reader, for its non-blocking methods.
    pub fn get_mut(&mut self) -> &mut UntetheredReader {
        &mut self.inner
    }

    /// Unregisters the readiness handle and gives the reader back.
    pub fn into_inner(mut self) -> UntetheredReader {
        disarm(&mut self.inner.h);
        self.inner
    }

    fn poll_into(
        &mut self,
        cx: &mut Context<'_>,
        dst: &mut Vec<u8>,
    ) -> Poll<Result<usize, RecvError>> {
        self.inner.h.check()?;
        let r = &mut self.inner;
        let cons = &mut r.cons;
        let event: Event = match poll_block(&mut r.h, &self.fd, cx, |h| untethered::poll(cons, h)) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Ok(e)) => e,
            Poll::Ready(Err(b)) => return Poll::Ready(Err(r.blocked(b))),
        };
        Poll::Ready(r.finish(event, dst))
    }

    /// Waits for the next message and copies it into `dst` (cleared first); returns its
    /// length. A lap is reported as [`RecvError::Lapped`]; the next call goes on from the
    /// oldest intact message.
    ///
    /// Cancellation safe: the message is copied and taken in the poll that completes the
    /// future; a dropped future loses nothing (`dst` may have been cleared).
    ///
    /// # Errors
    /// As [`UntetheredReader::recv_into`], and [`RecvError::Reactor`].
    pub async fn recv_into(&mut self, dst: &mut Vec<u8>) -> Result<usize, RecvError> {
        let this = Armed(self);
        poll_fn(|cx| this.0.poll_into(cx, dst)).await
    }

    /// Waits for the next message and returns a copy of it.
    ///
    /// Cancellation safe, as [`AsyncUntetheredReader::recv_into`].
    ///
    /// # Errors
    /// As [`AsyncUntetheredReader::recv_into`].
    pub async fn recv_vec(&mut self) -> Result<Vec<u8>, RecvError> {
        let mut v = Vec::new();
        self.recv_into(&mut v).await?;
        Ok(v)
    }
}

/// The messages, copied out, until the writer has gone; a lap is `Some(Err(Lapped))` and the
/// stream goes on with intact messages; corruption is reported once and ends it.
impl Stream for AsyncUntetheredReader {
    type Item = Result<Vec<u8>, RecvError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.ended {
            return Poll::Ready(None);
        }
        let mut v = Vec::new();
        match this.poll_into(cx, &mut v) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(_)) => Poll::Ready(Some(Ok(v))),
            Poll::Ready(Err(e)) => stream_error(&mut this.ended, e),
        }
    }
}

/// A [`Writer`] waiting for room in a tokio runtime.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
/// let (w, mut r) = mmring_core::anonymous(4096)?;
/// let mut w = mmring_core::tokio::AsyncWriter::new(w)?;
/// w.send(b"async").await?;
/// assert_eq!(r.recv_vec()?, b"async");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct AsyncWriter {
    inner: Writer,
    fd: AsyncFd<Readiness>,
}

impl AsyncWriter {
    /// Registers `writer`'s readiness handle with the current tokio runtime.
    ///
    /// # Errors
    /// As [`Writer::readiness`], and the reactor's registration.
    ///
    /// # Panics
    /// Outside a tokio runtime with I/O enabled.
    pub fn new(mut writer: Writer) -> io::Result<AsyncWriter> {
        let fd = register(writer.readiness())?;
        Ok(AsyncWriter { inner: writer, fd })
    }

    /// The writer, for its non-blocking methods (`try_send`, `batch`).
    pub fn get_ref(&self) -> &Writer {
        &self.inner
    }

    /// The writer, for its non-blocking methods.
    pub fn get_mut(&mut self) -> &mut Writer {
        &mut self.inner
    }

    /// Unregisters the readiness handle and gives the writer back.
    pub fn into_inner(mut self) -> Writer {
        disarm(&mut self.inner.h);
        self.inner
    }

    /// Waits for room for a `len`-byte message and reserves it; fill the grant and commit it.
    ///
    /// Cancellation safe: nothing is reserved before the future completes, so a dropped
    /// future holds no space.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    /// # let (w, mut r) = mmring_core::anonymous(4096)?;
    /// let mut w = mmring_core::tokio::AsyncWriter::new(w)?;
    /// let mut g = w.reserve(3).await?;
    /// g.copy_from_slice(b"abc");
    /// g.commit();
    /// assert_eq!(r.try_recv_vec()?, b"abc");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Writer::reserve`], and [`SendError::Reactor`].
    pub async fn reserve(&mut self, len: usize) -> Result<Grant<'_>, SendError> {
        let len = self.inner.check_blocking(len)?;
        let res = {
            let w = &mut self.inner;
            let prod = &mut w.prod;
            let armed = Armed(&mut w.h);
            let fd = &self.fd;
            poll_fn(|cx| {
                poll_block(&mut *armed.0, fd, cx, |h| {
                    prod.reserve_probing(&h.shared, &h.region, len)
                })
            })
            .await
        };
        match res {
            Ok(res) => Ok(self.inner.grant(res, true)),
            Err(b) => Err(self.inner.blocked(b)),
        }
    }

    /// Waits for room and sends a copy of `msg`.
    ///
    /// Cancellation safe: the message is copied and committed in the poll that completes the
    /// future; a dropped future sent nothing and holds no space.
    ///
    /// # Errors
    /// As [`AsyncWriter::reserve`].
    pub async fn send(&mut self, msg: &[u8]) -> Result<(), SendError> {
        let mut g = self.reserve(msg.len()).await?;
        g.copy_from_slice(msg);
        g.commit();
        Ok(())
    }
}
