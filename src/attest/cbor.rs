//! A minimal CBOR encoder (RFC 8949) into a fixed buffer: just what the CCA token needs.
//!
//! Every head uses the shortest form (preferred serialisation), so the bytes are deterministic and
//! the size of a value is known before it is written ([`head_len`]). No heap, no floats, no
//! indefinite lengths.

/// The buffer is too small for what was asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Overflow;

/// CBOR major types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Major {
    /// 0: unsigned integer.
    Uint = 0,
    /// 1: negative integer (−1 − n).
    Nint = 1,
    /// 2: byte string.
    Bstr = 2,
    /// 3: text string.
    Tstr = 3,
    /// 4: array.
    Array = 4,
    /// 5: map.
    Map = 5,
    /// 6: tag.
    Tag = 6,
}

/// Bytes of a head carrying `value` (1, 2, 3, 5 or 9).
pub const fn head_len(value: u64) -> usize {
    match value {
        0..=23 => 1,
        24..=0xFF => 2,
        0x100..=0xFFFF => 3,
        0x1_0000..=0xFFFF_FFFF => 5,
        _ => 9,
    }
}

/// Bytes of a byte or text string of `len` bytes, head included.
pub const fn str_len(len: usize) -> usize {
    head_len(len as u64) + len
}

/// Bytes of an integer key or value (major 0 or 1).
pub const fn int_len(value: i64) -> usize {
    if value >= 0 {
        head_len(value as u64)
    } else {
        head_len((-1 - value) as u64)
    }
}

/// Writes CBOR items one after another into a borrowed buffer.
pub struct Writer<'b> {
    buf: &'b mut [u8],
    pos: usize,
}

impl<'b> Writer<'b> {
    /// A writer at the start of `buf`.
    pub fn new(buf: &'b mut [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.pos
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.pos == 0
    }

    /// The bytes written so far.
    pub fn written(&self) -> &[u8] {
        &self.buf[..self.pos]
    }

    /// Appends raw bytes (an already encoded item, or a string's contents after its head).
    pub fn raw(&mut self, bytes: &[u8]) -> Result<&mut Self, Overflow> {
        let end = self
            .pos
            .checked_add(bytes.len())
            .filter(|&e| e <= self.buf.len())
            .ok_or(Overflow)?;
        self.buf[self.pos..end].copy_from_slice(bytes);
        self.pos = end;
        Ok(self)
    }

    /// A head: major type and argument, shortest form.
    pub fn head(&mut self, major: Major, value: u64) -> Result<&mut Self, Overflow> {
        let m = (major as u8) << 5;
        let mut b = [0u8; 9];
        let n = head_len(value);
        match n {
            1 => b[0] = m | value as u8,
            2 => {
                b[0] = m | 24;
                b[1] = value as u8;
            }
            3 => {
                b[0] = m | 25;
                b[1..3].copy_from_slice(&(value as u16).to_be_bytes());
            }
            5 => {
                b[0] = m | 26;
                b[1..5].copy_from_slice(&(value as u32).to_be_bytes());
            }
            _ => {
                b[0] = m | 27;
                b[1..9].copy_from_slice(&value.to_be_bytes());
            }
        }
        self.raw(&b[..n])
    }

    /// An integer (major 0 for ≥ 0, major 1 otherwise).
    pub fn int(&mut self, value: i64) -> Result<&mut Self, Overflow> {
        if value >= 0 {
            self.head(Major::Uint, value as u64)
        } else {
            self.head(Major::Nint, (-1 - value) as u64)
        }
    }

    /// A byte string.
    pub fn bstr(&mut self, bytes: &[u8]) -> Result<&mut Self, Overflow> {
        self.head(Major::Bstr, bytes.len() as u64)?.raw(bytes)
    }

    /// A text string.
    pub fn tstr(&mut self, text: &str) -> Result<&mut Self, Overflow> {
        self.head(Major::Tstr, text.len() as u64)?
            .raw(text.as_bytes())
    }

    /// The head of an array of `n` items.
    pub fn array(&mut self, n: u64) -> Result<&mut Self, Overflow> {
        self.head(Major::Array, n)
    }

    /// The head of a map of `n` pairs.
    pub fn map(&mut self, n: u64) -> Result<&mut Self, Overflow> {
        self.head(Major::Map, n)
    }

    /// A tag (the tagged item follows).
    pub fn tag(&mut self, tag: u64) -> Result<&mut Self, Overflow> {
        self.head(Major::Tag, tag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(f: impl FnOnce(&mut Writer<'_>) -> Result<(), Overflow>) -> std::vec::Vec<u8> {
        let mut buf = [0u8; 64];
        let mut w = Writer::new(&mut buf);
        f(&mut w).expect("fits");
        w.written().to_vec()
    }

    #[test]
    fn rfc8949_appendix_a_examples() {
        assert_eq!(enc(|w| w.int(0).map(drop)), [0x00]);
        assert_eq!(enc(|w| w.int(23).map(drop)), [0x17]);
        assert_eq!(enc(|w| w.int(24).map(drop)), [0x18, 0x18]);
        assert_eq!(enc(|w| w.int(1000).map(drop)), [0x19, 0x03, 0xE8]);
        assert_eq!(
            enc(|w| w.int(1_000_000).map(drop)),
            [0x1A, 0x00, 0x0F, 0x42, 0x40]
        );
        assert_eq!(
            enc(|w| w.int(1_000_000_000_000).map(drop)),
            [0x1B, 0, 0, 0, 0xE8, 0xD4, 0xA5, 0x10, 0]
        );
        assert_eq!(enc(|w| w.int(-1).map(drop)), [0x20]);
        assert_eq!(enc(|w| w.int(-100).map(drop)), [0x38, 0x63]);
        assert_eq!(enc(|w| w.int(-1000).map(drop)), [0x39, 0x03, 0xE7]);
        assert_eq!(enc(|w| w.bstr(&[1, 2, 3, 4]).map(drop)), [0x44, 1, 2, 3, 4]);
        assert_eq!(
            enc(|w| w.tstr("IETF").map(drop)),
            [0x64, b'I', b'E', b'T', b'F']
        );
        assert_eq!(
            enc(|w| w.tag(1)?.int(1_363_896_240).map(drop)),
            [0xC1, 0x1A, 0x51, 0x4B, 0x67, 0xB0]
        );
        assert_eq!(
            enc(|w| w.array(3)?.int(1)?.int(2)?.int(3).map(drop)),
            [0x83, 1, 2, 3]
        );
        assert_eq!(enc(|w| w.map(0).map(drop)), [0xA0]);
        // The CCA collection tag and claim keys.
        assert_eq!(enc(|w| w.tag(399).map(drop)), [0xD9, 0x01, 0x8F]);
        assert_eq!(enc(|w| w.int(44234).map(drop)), [0x19, 0xAC, 0xCA]);
        assert_eq!(enc(|w| w.int(-35).map(drop)), [0x38, 0x22]);
    }

    #[test]
    fn lengths_match_what_is_written() {
        for v in [
            0u64,
            23,
            24,
            255,
            256,
            65535,
            65536,
            u32::MAX as u64,
            u32::MAX as u64 + 1,
        ] {
            let mut buf = [0u8; 9];
            let mut w = Writer::new(&mut buf);
            w.head(Major::Uint, v).unwrap();
            assert_eq!(w.len(), head_len(v));
        }
        for v in [-1i64, -24, -25, -256, -257, 44241] {
            assert_eq!(enc(|w| w.int(v).map(drop)).len(), int_len(v));
        }
    }

    #[test]
    fn overflow_is_reported_not_truncated() {
        let mut buf = [0u8; 3];
        let mut w = Writer::new(&mut buf);
        assert_eq!(w.bstr(&[1, 2, 3]).err(), Some(Overflow));
        assert_eq!(w.len(), 1, "the head fitted, the contents did not");
    }
}
