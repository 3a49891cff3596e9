//! How `tail` prints a message: text, hex or JSON lines, through a buffered writer.

use crate::cli::Format;
use std::io::{self, Write};

/// Writes messages one per line in a [`Format`].
#[derive(Debug)]
pub struct Printer<W: Write> {
    out: W,
    format: Format,
    scratch: Vec<u8>,
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn push_hex(dst: &mut Vec<u8>, bytes: &[u8]) {
    dst.reserve(bytes.len() * 2);
    for &b in bytes {
        dst.push(HEX[usize::from(b >> 4)]);
        dst.push(HEX[usize::from(b & 15)]);
    }
}

impl<W: Write> Printer<W> {
    /// A printer writing to `out`.
    pub fn new(out: W, format: Format) -> Self {
        Printer {
            out,
            format,
            scratch: Vec::new(),
        }
    }

    /// Prints one message and a newline.
    #[inline]
    pub fn print(&mut self, msg: &[u8]) -> io::Result<()> {
        match self.format {
            Format::Text => {
                self.out.write_all(msg)?;
                self.out.write_all(b"\n")
            }
            Format::Hex => {
                self.scratch.clear();
                push_hex(&mut self.scratch, msg);
                self.scratch.push(b'\n');
                self.out.write_all(&self.scratch)
            }
            Format::Json => {
                self.scratch.clear();
                let value = match std::str::from_utf8(msg) {
                    Ok(text) => serde_json::json!({ "len": msg.len(), "text": text }),
                    Err(_) => {
                        let mut hex = Vec::new();
                        push_hex(&mut hex, msg);
                        let hex = String::from_utf8(hex).expect("hex digits are ASCII");
                        serde_json::json!({ "len": msg.len(), "hex": hex })
                    }
                };
                serde_json::to_writer(&mut self.scratch, &value)?;
                self.scratch.push(b'\n');
                self.out.write_all(&self.scratch)
            }
        }
    }

    /// Flushes the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(format: Format, msg: &[u8]) -> String {
        let mut p = Printer::new(Vec::new(), format);
        p.print(msg).unwrap();
        String::from_utf8(p.out).unwrap()
    }

    #[test]
    fn formats() {
        assert_eq!(render(Format::Text, b"a b"), "a b\n");
        assert_eq!(render(Format::Hex, &[0, 0xab, 0x7f]), "00ab7f\n");
        assert_eq!(
            render(Format::Json, b"say \"hi\""),
            "{\"len\":8,\"text\":\"say \\\"hi\\\"\"}\n"
        );
        assert_eq!(
            render(Format::Json, &[0xff, 1]),
            "{\"hex\":\"ff01\",\"len\":2}\n"
        );
    }
}
