//! A minimal flattened device tree (DTB, version 17) writer, and a reader for its tests.
//!
//! Owns only the binary format (header, empty memory reservation map, structure block, strings
//! block); what the tree says is [`super::Layout::dtb`]'s business.

const MAGIC: u32 = 0xD00D_FEED;
const BEGIN_NODE: u32 = 1;
const END_NODE: u32 = 2;
const PROP: u32 = 3;
const END: u32 = 9;
const HEADER: usize = 40;
/// One empty memory reservation entry (the terminator).
const RSVMAP: usize = 16;

/// Builds a DTB node by node; property values are big-endian cells or NUL-terminated strings.
pub struct Writer {
    structs: Vec<u8>,
    strings: Vec<u8>,
    depth: usize,
}

impl Writer {
    /// An empty tree.
    pub fn new() -> Self {
        Writer {
            structs: Vec::new(),
            strings: Vec::new(),
            depth: 0,
        }
    }

    fn word(&mut self, w: u32) {
        self.structs.extend_from_slice(&w.to_be_bytes());
    }

    fn pad(&mut self) {
        while !self.structs.len().is_multiple_of(4) {
            self.structs.push(0);
        }
    }

    /// Opens node `name` (the root is "").
    pub fn begin(&mut self, name: &str) {
        self.word(BEGIN_NODE);
        self.structs.extend_from_slice(name.as_bytes());
        self.structs.push(0);
        self.pad();
        self.depth += 1;
    }

    /// Closes the open node.
    pub fn end(&mut self) {
        self.word(END_NODE);
        self.depth -= 1;
    }

    fn name_offset(&mut self, name: &str) -> u32 {
        let mut at = 0;
        while at < self.strings.len() {
            let end = at + self.strings[at..].iter().position(|&b| b == 0).unwrap_or(0);
            if &self.strings[at..end] == name.as_bytes() {
                return at as u32;
            }
            at = end + 1;
        }
        let off = self.strings.len() as u32;
        self.strings.extend_from_slice(name.as_bytes());
        self.strings.push(0);
        off
    }

    /// A property with raw bytes.
    pub fn prop(&mut self, name: &str, value: &[u8]) {
        let off = self.name_offset(name);
        self.word(PROP);
        self.word(value.len() as u32);
        self.word(off);
        self.structs.extend_from_slice(value);
        self.pad();
    }

    /// An empty (boolean) property.
    pub fn empty(&mut self, name: &str) {
        self.prop(name, &[]);
    }

    /// One 32-bit cell.
    pub fn u32(&mut self, name: &str, v: u32) {
        self.u32s(name, &[v]);
    }

    /// 32-bit cells.
    pub fn u32s(&mut self, name: &str, v: &[u32]) {
        let b: Vec<u8> = v.iter().flat_map(|w| w.to_be_bytes()).collect();
        self.prop(name, &b);
    }

    /// 64-bit values as pairs of cells.
    pub fn u64s(&mut self, name: &str, v: &[u64]) {
        let b: Vec<u8> = v.iter().flat_map(|w| w.to_be_bytes()).collect();
        self.prop(name, &b);
    }

    /// A string list.
    pub fn strs(&mut self, name: &str, v: &[&str]) {
        let mut b = Vec::new();
        for s in v {
            b.extend_from_slice(s.as_bytes());
            b.push(0);
        }
        self.prop(name, &b);
    }

    /// The DTB (all nodes must be closed).
    pub fn finish(mut self) -> Vec<u8> {
        assert_eq!(self.depth, 0, "unclosed FDT node");
        self.word(END);
        let off_struct = HEADER + RSVMAP;
        let off_strings = off_struct + self.structs.len();
        let total = off_strings + self.strings.len();
        let header: [u32; 10] = [
            MAGIC,
            total as u32,
            off_struct as u32,
            off_strings as u32,
            HEADER as u32,
            17,
            16,
            0,
            self.strings.len() as u32,
            self.structs.len() as u32,
        ];
        let mut out: Vec<u8> = header.iter().flat_map(|w| w.to_be_bytes()).collect();
        out.extend_from_slice(&[0; RSVMAP]);
        out.extend_from_slice(&self.structs);
        out.extend_from_slice(&self.strings);
        out
    }
}

/// Every property of `dtb` as `path:name` (`path:name=value` for printable strings), in order.
#[cfg(test)]
pub fn parse(dtb: &[u8]) -> Option<Vec<String>> {
    let be = |o: usize| Some(u32::from_be_bytes(dtb.get(o..o + 4)?.try_into().ok()?));
    if be(0)? != MAGIC {
        return None;
    }
    let (off_struct, off_strings) = (be(8)? as usize, be(12)? as usize);
    let mut at = off_struct;
    let mut path: Vec<String> = Vec::new();
    let mut out = Vec::new();
    let cstr = |o: usize| -> Option<&str> {
        let end = o + dtb.get(o..)?.iter().position(|&b| b == 0)?;
        std::str::from_utf8(&dtb[o..end]).ok()
    };
    loop {
        match be(at)? {
            BEGIN_NODE => {
                let name = cstr(at + 4)?;
                path.push(name.to_string());
                at = (at + 4 + name.len() + 1).div_ceil(4) * 4;
            }
            END_NODE => {
                path.pop();
                at += 4;
            }
            PROP => {
                let (len, nameoff) = (be(at + 4)? as usize, be(at + 8)? as usize);
                let name = cstr(off_strings + nameoff)?;
                let value = dtb.get(at + 12..at + 12 + len)?;
                let p = if path.len() <= 1 {
                    "/".to_string()
                } else {
                    path[1..].iter().map(|s| format!("/{s}")).collect()
                };
                let text = value
                    .split_last()
                    .filter(|(last, rest)| {
                        **last == 0 && !rest.is_empty() && rest.iter().all(|b| b.is_ascii_graphic() || *b == b' ' || *b == 0)
                    })
                    .map(|(_, rest)| String::from_utf8_lossy(rest).replace('\0', ","));
                out.push(match text {
                    Some(t) => format!("{p}:{name}={t}"),
                    None => format!("{p}:{name}"),
                });
                at = (at + 12 + len).div_ceil(4) * 4;
            }
            END => return Some(out),
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut w = Writer::new();
        w.begin("");
        w.u32("#address-cells", 2);
        w.begin("chosen");
        w.strs("bootargs", &["console=ttyAMA0"]);
        w.end();
        w.begin("psci");
        w.strs("compatible", &["arm,psci-1.0", "arm,psci-0.2"]);
        w.empty("x");
        w.end();
        w.end();
        let dtb = w.finish();
        assert_eq!(&dtb[..4], &MAGIC.to_be_bytes());
        assert_eq!(u32::from_be_bytes(dtb[4..8].try_into().unwrap()) as usize, dtb.len());
        let props = parse(&dtb).unwrap();
        assert_eq!(
            props,
            [
                "/:#address-cells",
                "/chosen:bootargs=console=ttyAMA0",
                "/psci:compatible=arm,psci-1.0,arm,psci-0.2",
                "/psci:x"
            ]
        );
    }
}
