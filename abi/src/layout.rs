//! Compile-time layout assertions for the `#[repr(C)]` ABI structures.
//!
//! Owns the `assert_layout!` macro: one `const` assert for the total size and
//! one per listed field offset, so that a wrong offset is a build error rather
//! than a silently corrupted host or Realm granule.

/// Asserts `size_of::<$ty>() == $size` and `offset_of!($ty, $field) == $off`
/// for every listed field, at compile time.
macro_rules! assert_layout {
    ($ty:ty, size = $size:expr; $($field:ident @ $off:expr),* $(,)?) => {
        const _: () = assert!(core::mem::size_of::<$ty>() == $size);
        $(
            const _: () = assert!(core::mem::offset_of!($ty, $field) == $off);
        )*
    };
}

pub(crate) use assert_layout;
