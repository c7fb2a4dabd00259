//! The granule states of the spec (A2.2.3) and their encoding in the table word.

/// The state of a granule, as the spec names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum GranuleState {
    /// Not delegated: the Host owns it (GPT says NS, or it was never given).
    Undelegated = 0,
    /// Delegated to the Realm world, not yet in use.
    Delegated = 1,
    /// A Realm Descriptor.
    Rd = 2,
    /// A Realm Execution Context.
    Rec = 3,
    /// An auxiliary granule of a REC.
    RecAux = 4,
    /// Realm data.
    Data = 5,
    /// A Realm Translation Table.
    Rtt = 6,
}

impl GranuleState {
    /// Decodes the 4-bit state field of a table word.
    #[inline]
    pub const fn from_bits(bits: u32) -> Self {
        match bits & 0xF {
            0 => Self::Undelegated,
            1 => Self::Delegated,
            2 => Self::Rd,
            3 => Self::Rec,
            4 => Self::RecAux,
            5 => Self::Data,
            6 => Self::Rtt,
            // Only `table` writes words, and only with valid states.
            _ => panic!("corrupt granule word"),
        }
    }

    /// The 4-bit encoding.
    #[inline]
    pub const fn bits(self) -> u32 {
        self as u32
    }
}
