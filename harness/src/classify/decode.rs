//! Input decoding for the reader entry point: UTF-16 with a byte-order mark becomes UTF-8 on the fly.
//!
//! Windows PowerShell 5's `>` writes UTF-16LE with a BOM; such input is decoded in bounded memory, a UTF-8 BOM is
//! stripped, anything else passes through unchanged.

use std::io::{BufRead, BufReader, Read};

/// A UTF-8 view of a reader: decodes UTF-16 when the input starts with a UTF-16 byte-order mark, strips a UTF-8 one.
pub fn utf8_reader<'a>(mut reader: impl BufRead + 'a) -> std::io::Result<Box<dyn BufRead + 'a>> {
    // Peek at up to three bytes, however small the reader's buffer.
    let mut head = Vec::with_capacity(3);
    while head.len() < 3 {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            break;
        }
        let take = (3 - head.len()).min(buf.len());
        head.extend_from_slice(&buf[..take]);
        reader.consume(take);
    }
    let (skip, utf16) = if head.starts_with(&[0xFF, 0xFE]) {
        (2, Some(false))
    } else if head.starts_with(&[0xFE, 0xFF]) {
        (2, Some(true))
    } else if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
        (3, None)
    } else {
        (0, None)
    };
    let rest = std::io::Cursor::new(head.split_off(skip)).chain(reader);
    Ok(match utf16 {
        Some(big_endian) => Box::new(BufReader::new(Utf16Reader::new(rest, big_endian))),
        None => Box::new(rest),
    })
}

/// Decodes UTF-16 code units into UTF-8 bytes; unpaired surrogates become U+FFFD.
struct Utf16Reader<R> {
    inner: R,
    big_endian: bool,
    /// A byte of a code unit split across reads.
    odd: Option<u8>,
    /// A high surrogate waiting for its low half.
    high: Option<u16>,
    /// Decoded bytes not yet handed out.
    pending: Vec<u8>,
    at: usize,
    eof: bool,
}

impl<R: Read> Utf16Reader<R> {
    fn new(inner: R, big_endian: bool) -> Self {
        Utf16Reader {
            inner,
            big_endian,
            odd: None,
            high: None,
            pending: Vec::new(),
            at: 0,
            eof: false,
        }
    }

    fn push_unit(&mut self, unit: u16) {
        let mut buf = [0u8; 4];
        if let Some(high) = self.high.take() {
            if (0xDC00..0xE000).contains(&unit) {
                let c = 0x10000 + (((high as u32) - 0xD800) << 10) + ((unit as u32) - 0xDC00);
                let c = char::from_u32(c).unwrap_or('\u{FFFD}');
                self.pending.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                return;
            }
            self.pending
                .extend_from_slice('\u{FFFD}'.encode_utf8(&mut buf).as_bytes());
        }
        if (0xD800..0xDC00).contains(&unit) {
            self.high = Some(unit);
            return;
        }
        let c = char::from_u32(unit as u32).unwrap_or('\u{FFFD}');
        self.pending.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
    }

    fn refill(&mut self) -> std::io::Result<()> {
        self.pending.clear();
        self.at = 0;
        let mut raw = [0u8; 16 * 1024];
        while self.pending.is_empty() && !self.eof {
            let n = match self.inner.read(&mut raw) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                self.eof = true;
                if self.high.take().is_some() || self.odd.take().is_some() {
                    self.pending.extend_from_slice("\u{FFFD}".as_bytes());
                }
                break;
            }
            let mut bytes = &raw[..n];
            if let Some(first) = self.odd.take() {
                let unit = self.unit(first, bytes[0]);
                self.push_unit(unit);
                bytes = &bytes[1..];
            }
            let mut pairs = bytes.chunks_exact(2);
            for pair in &mut pairs {
                let unit = self.unit(pair[0], pair[1]);
                self.push_unit(unit);
            }
            if let [last] = pairs.remainder() {
                self.odd = Some(*last);
            }
        }
        Ok(())
    }

    fn unit(&self, a: u8, b: u8) -> u16 {
        if self.big_endian {
            u16::from_be_bytes([a, b])
        } else {
            u16::from_le_bytes([a, b])
        }
    }
}

impl<R: Read> Read for Utf16Reader<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.at >= self.pending.len() {
            self.refill()?;
        }
        let available = &self.pending[self.at..];
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16le(text: &str) -> Vec<u8> {
        let mut out = vec![0xFF, 0xFE];
        for unit in text.encode_utf16() {
            out.extend_from_slice(&unit.to_le_bytes());
        }
        out
    }

    fn read_all(bytes: &[u8]) -> String {
        let mut s = String::new();
        utf8_reader(bytes).unwrap().read_to_string(&mut s).unwrap();
        s
    }

    #[test]
    fn decodes_utf16le_with_bom() {
        let text = "Zugriff verweigert 𝄞 (0x5)\r\nnext";
        assert_eq!(read_all(&utf16le(text)), text);
    }

    #[test]
    fn decodes_utf16be_and_strips_utf8_bom() {
        let mut be = vec![0xFE, 0xFF];
        for unit in "Accès refusé".encode_utf16() {
            be.extend_from_slice(&unit.to_be_bytes());
        }
        assert_eq!(read_all(&be), "Accès refusé");
        assert_eq!(read_all(b"\xEF\xBB\xBFplain"), "plain");
        assert_eq!(read_all(b"plain"), "plain");
    }

    #[test]
    fn survives_units_split_across_reads() {
        let bytes = utf16le("ab𝄞cd");
        // A reader that hands out one byte at a time.
        struct OneByte<'a>(&'a [u8]);
        impl Read for OneByte<'_> {
            fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
                if self.0.is_empty() || out.is_empty() {
                    return Ok(0);
                }
                out[0] = self.0[0];
                self.0 = &self.0[1..];
                Ok(1)
            }
        }
        let mut s = String::new();
        utf8_reader(BufReader::with_capacity(1, OneByte(&bytes)))
            .unwrap()
            .read_to_string(&mut s)
            .unwrap();
        assert_eq!(s, "ab𝄞cd");
    }
}
