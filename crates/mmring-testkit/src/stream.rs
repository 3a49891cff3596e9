#![doc = include_str!("stream.md")]

use std::fmt;

/// The smallest message of a stream: the sequence number.
pub const MIN_LEN: usize = 8;

/// SplitMix64: a fast, well-mixed 64-bit function.
#[inline]
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The size of message `seq` in a stream whose sizes range over `min..=max` (`min >= 8`).
#[inline]
pub fn size_for(seq: u64, min: usize, max: usize) -> usize {
    debug_assert!(min >= MIN_LEN && min <= max);
    let span = (max - min + 1) as u64;
    min + (mix(seq ^ 0x5EED) % span) as usize
}

#[inline]
fn word(seq: u64, i: usize) -> u64 {
    mix(seq.wrapping_mul(0x1000_0000_01B3) ^ i as u64)
}

/// Fills `buf` (at least 8 bytes) as message `seq`.
#[inline]
pub fn fill(seq: u64, buf: &mut [u8]) {
    assert!(buf.len() >= MIN_LEN, "stream messages are at least 8 bytes");
    buf[..8].copy_from_slice(&seq.to_le_bytes());
    let mut chunks = buf[8..].chunks_mut(8);
    for (i, c) in (&mut chunks).enumerate() {
        let w = word(seq, i).to_le_bytes();
        c.copy_from_slice(&w[..c.len()]);
    }
}

/// The sequence number a message carries, if it is long enough to carry one.
#[inline]
pub fn seq_of(msg: &[u8]) -> Option<u64> {
    msg.get(..8)
        .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
}

/// What [`verify`] found wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamError {
    /// Shorter than the 8-byte sequence number.
    TooShort {
        /// The message length.
        len: usize,
    },
    /// Not the sequence number expected (lost, duplicated or reordered messages).
    Sequence {
        /// The next sequence number expected.
        expected: u64,
        /// The one received.
        found: u64,
    },
    /// A byte differs from what the sequence number determines (a torn or damaged message).
    Content {
        /// The message.
        seq: u64,
        /// The first differing byte.
        offset: usize,
    },
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamError::TooShort { len } => {
                write!(f, "message of {len} bytes has no sequence number")
            }
            StreamError::Sequence { expected, found } => {
                write!(f, "expected message #{expected}, received #{found}")
            }
            StreamError::Content { seq, offset } => {
                write!(
                    f,
                    "message #{seq} differs from what was sent at byte {offset}"
                )
            }
        }
    }
}

impl std::error::Error for StreamError {}

/// Checks that `msg` is message `expected`, byte for byte.
///
/// # Errors
/// The first thing that is wrong, as a [`StreamError`].
#[inline]
pub fn verify(expected: u64, msg: &[u8]) -> Result<(), StreamError> {
    let seq = seq_of(msg).ok_or(StreamError::TooShort { len: msg.len() })?;
    if seq != expected {
        return Err(StreamError::Sequence {
            expected,
            found: seq,
        });
    }
    for (i, c) in msg[8..].chunks(8).enumerate() {
        let w = word(seq, i).to_le_bytes();
        if c != &w[..c.len()] {
            let at = c.iter().zip(w).position(|(a, b)| *a != b).unwrap_or(0);
            return Err(StreamError::Content {
                seq,
                offset: 8 + i * 8 + at,
            });
        }
    }
    Ok(())
}

/// A running checksum over a stream of messages (their lengths and bytes, in order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checksum(u64);

impl Default for Checksum {
    fn default() -> Self {
        Self::new()
    }
}

impl Checksum {
    /// The checksum of the empty stream.
    pub fn new() -> Self {
        Checksum(0xCBF2_9CE4_8422_2325)
    }

    /// Folds one message in.
    #[inline]
    pub fn update(&mut self, msg: &[u8]) {
        const P: u64 = 0x0000_0100_0000_01B3;
        let mut h = (self.0 ^ msg.len() as u64).wrapping_mul(P);
        let mut chunks = msg.chunks_exact(8);
        for c in &mut chunks {
            h = (h ^ u64::from_le_bytes(c.try_into().expect("8 bytes"))).wrapping_mul(P);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            h = (h ^ u64::from_le_bytes(w)).wrapping_mul(P);
        }
        self.0 = h;
    }

    /// The current value.
    pub fn value(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_is_checked() {
        for len in 8..40 {
            let mut m = vec![0u8; len];
            fill(3, &mut m);
            verify(3, &m).unwrap();
            for i in 8..len {
                let mut bad = m.clone();
                bad[i] ^= 0x80;
                assert_eq!(
                    verify(3, &bad),
                    Err(StreamError::Content { seq: 3, offset: i })
                );
            }
            assert!(matches!(
                verify(4, &m),
                Err(StreamError::Sequence {
                    expected: 4,
                    found: 3
                })
            ));
        }
    }

    #[test]
    fn sizes_stay_in_range_and_vary() {
        let sizes: Vec<usize> = (0..1000).map(|s| size_for(s, 8, 100)).collect();
        assert!(sizes.iter().all(|&s| (8..=100).contains(&s)));
        assert!(sizes.contains(&8) && sizes.contains(&100));
    }

    #[test]
    fn checksum_sees_lengths() {
        let (mut a, mut b) = (Checksum::new(), Checksum::new());
        a.update(&[0; 8]);
        b.update(&[0; 9]);
        assert_ne!(a.value(), b.value());
    }
}
