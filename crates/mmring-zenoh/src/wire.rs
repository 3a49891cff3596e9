//! What the bridges add to each Zenoh sample: a tag in the sample's attachment saying where the
//! message sat in its source ring, and the acknowledgement the inbound bridge sends back.
//!
//! Both are fixed-size little-endian records with a version byte, so a bridge that meets a
//! newer or foreign attachment treats the sample as untagged instead of guessing.

/// The first byte of a tag and of an acknowledgement.
pub const WIRE_VERSION: u8 = 1;
/// Bytes of an encoded [`Tag`].
pub const TAG_LEN: usize = 26;
/// Bytes of an encoded [`Ack`].
pub const ACK_LEN: usize = 17;
/// Tag flag: the sender waits for an acknowledgement after this message.
const FLAG_ACK: u8 = 1;

/// Where a bridged message came from: its source ring and the byte positions its record spans
/// there (`from` is where the reader stood before reading it, padding included, so consecutive
/// messages satisfy `next.from == prev.end`).
///
/// ```
/// use mmring_zenoh::wire::Tag;
/// let t = Tag { source: 7, from: 64, end: 88, ack: true };
/// assert_eq!(Tag::decode(&t.encode()), Some(t));
/// assert_eq!(Tag::decode(b"short"), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tag {
    /// Identity of the source ring and reader slot (see [`crate::position::source_id`]).
    pub source: u64,
    /// The reader's position before this message (its record, or a padding record before it).
    pub from: u64,
    /// The position just after this message's record.
    pub end: u64,
    /// The last message of a window: the receiver acknowledges it once it is in its ring.
    pub ack: bool,
}

impl Tag {
    /// The attachment bytes.
    pub fn encode(&self) -> [u8; TAG_LEN] {
        let mut b = [0u8; TAG_LEN];
        b[0] = WIRE_VERSION;
        b[1] = if self.ack { FLAG_ACK } else { 0 };
        b[2..10].copy_from_slice(&self.source.to_le_bytes());
        b[10..18].copy_from_slice(&self.from.to_le_bytes());
        b[18..26].copy_from_slice(&self.end.to_le_bytes());
        b
    }

    /// Parses an attachment; `None` if it is not a tag of this version (or `from > end`).
    pub fn decode(b: &[u8]) -> Option<Tag> {
        if b.len() != TAG_LEN || b[0] != WIRE_VERSION {
            return None;
        }
        let t = Tag {
            ack: b[1] & FLAG_ACK != 0,
            source: u64_at(b, 2),
            from: u64_at(b, 10),
            end: u64_at(b, 18),
        };
        (t.from <= t.end).then_some(t)
    }
}

/// "Everything of `source` up to position `end` is in my ring": cumulative, so a lost
/// acknowledgement is covered by any later one.
///
/// ```
/// use mmring_zenoh::wire::Ack;
/// let a = Ack { source: 7, end: 4096 };
/// assert_eq!(Ack::decode(&a.encode()), Some(a));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ack {
    /// The source ring, as in [`Tag::source`].
    pub source: u64,
    /// Every message whose record ends at or before this position is written.
    pub end: u64,
}

impl Ack {
    /// The payload bytes.
    pub fn encode(&self) -> [u8; ACK_LEN] {
        let mut b = [0u8; ACK_LEN];
        b[0] = WIRE_VERSION;
        b[1..9].copy_from_slice(&self.source.to_le_bytes());
        b[9..17].copy_from_slice(&self.end.to_le_bytes());
        b
    }

    /// Parses a payload; `None` if it is not an acknowledgement of this version.
    pub fn decode(b: &[u8]) -> Option<Ack> {
        if b.len() != ACK_LEN || b[0] != WIRE_VERSION {
            return None;
        }
        Some(Ack {
            source: u64_at(b, 1),
            end: u64_at(b, 9),
        })
    }
}

/// The key expression acknowledgements for `key` travel on: `KEY/@mmring/ack`. The `@mmring`
/// chunk is verbatim, so no wildcard subscription (`demo/**`) ever receives acknowledgements as
/// data.
///
/// ```
/// assert_eq!(mmring_zenoh::wire::ack_key("demo/x"), "demo/x/@mmring/ack");
/// ```
pub fn ack_key(key: &str) -> String {
    format!("{key}/@mmring/ack")
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foreign_attachments_are_not_tags() {
        let mut b = Tag {
            source: 1,
            from: 8,
            end: 16,
            ack: false,
        }
        .encode();
        b[0] = 2;
        assert_eq!(Tag::decode(&b), None);
        let bad = Tag {
            source: 1,
            from: 16,
            end: 8,
            ack: false,
        }
        .encode();
        assert_eq!(Tag::decode(&bad), None);
        assert_eq!(Ack::decode(&[1; 16]), None);
    }
}
