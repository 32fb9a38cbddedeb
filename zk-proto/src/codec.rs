//! The jute trait and ZooKeeper's primitive encodings.
//!
//! | jute type | Rust type | encoding |
//! |---|---|---|
//! | `int` / `long` | `i32` / `i64` | big-endian |
//! | `boolean` | `bool` | one byte, non-zero is true |
//! | `ustring` | `String` | i32 length + UTF-8; -1 is null and decodes as `""` |
//! | `ustring` (nullable) | `Option<String>` | as above, `None` is -1 |
//! | `buffer` | `Bytes` | i32 length + bytes; -1 decodes as empty |
//! | `buffer` (nullable) | `Option<Bytes>` | as above, `None` is -1 |
//! | `vector<T>` | `Vec<T>` | i32 count + elements; -1 decodes as empty |
//!
//! Decoders never trust a length: a string, buffer or vector that claims more bytes than remain
//! in the input is [`DecodeError::Truncated`], so a hostile length can never make us allocate.

use bytes::{Buf, BufMut, Bytes};

/// Why bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ended before the record did.
    #[error("truncated input: needed {needed} more bytes, {remaining} left")]
    Truncated {
        /// Bytes the next field needs.
        needed: usize,
        /// Bytes left in the input.
        remaining: usize,
    },
    /// A length or count was negative (other than the null marker -1).
    #[error("negative length {0}")]
    NegativeLength(i32),
    /// A string was not valid UTF-8.
    #[error("string is not valid UTF-8")]
    InvalidUtf8,
    /// Bytes were left over after a whole record was decoded.
    #[error("{0} trailing bytes after the record")]
    TrailingBytes(usize),
    /// A request carried an op code this protocol does not know.
    #[error("unknown op code {0}")]
    UnknownOpCode(i32),
    /// An op code that is valid on its own but not in this position (e.g. a top-level `check`).
    #[error("op code {0} is not allowed here")]
    UnexpectedOpCode(i32),
    /// A multi mixed read and write operations, or contained an op not allowed in a multi.
    #[error("invalid multi operation: op code {0}")]
    InvalidMultiOp(i32),
}

/// Result of a decode.
pub type DecodeResult<T> = Result<T, DecodeError>;

/// A value with a jute encoding: a primitive or a record.
///
/// `decode(encode(x)) == x` holds for every implementation, except that null strings,
/// buffers and vectors decode to empty values in the non-`Option` types.
pub trait Jute: Sized {
    /// Appends the encoding of `self` to `buf`.
    fn encode<B: BufMut>(&self, buf: &mut B);
    /// Reads one value from the front of `buf`.
    fn decode<B: Buf>(buf: &mut B) -> DecodeResult<Self>;
    /// The number of bytes [`Jute::encode`] writes.
    fn encoded_len(&self) -> usize;

    /// Encodes into a fresh buffer.
    fn to_bytes(&self) -> Bytes {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode(&mut out);
        Bytes::from(out)
    }

    /// Decodes a whole value: bytes left over are an error.
    fn decode_exact(mut bytes: &[u8]) -> DecodeResult<Self> {
        let value = Self::decode(&mut bytes)?;
        ensure_consumed(&bytes)?;
        Ok(value)
    }
}

/// Fails with [`DecodeError::TrailingBytes`] if anything is left in `buf`.
pub fn ensure_consumed<B: Buf>(buf: &B) -> DecodeResult<()> {
    match buf.remaining() {
        0 => Ok(()),
        n => Err(DecodeError::TrailingBytes(n)),
    }
}

fn need<B: Buf>(buf: &B, needed: usize) -> DecodeResult<()> {
    let remaining = buf.remaining();
    if remaining < needed {
        Err(DecodeError::Truncated { needed, remaining })
    } else {
        Ok(())
    }
}

/// The big-endian `i32` at `at` of a fixed-size record read whole (constant offsets, so no
/// bounds check survives inlining).
#[inline]
pub(crate) fn be_i32<const N: usize>(raw: &[u8; N], at: usize) -> i32 {
    i32::from_be_bytes([raw[at], raw[at + 1], raw[at + 2], raw[at + 3]])
}

/// The big-endian `i64` at `at` of a fixed-size record read whole.
#[inline]
pub(crate) fn be_i64<const N: usize>(raw: &[u8; N], at: usize) -> i64 {
    let mut bytes = [0; 8];
    bytes.copy_from_slice(&raw[at..at + 8]);
    i64::from_be_bytes(bytes)
}

/// Reads a length prefix: `None` for the null marker -1.
fn decode_len<B: Buf>(buf: &mut B) -> DecodeResult<Option<usize>> {
    let len = i32::decode(buf)?;
    match len {
        -1 => Ok(None),
        n if n < 0 => Err(DecodeError::NegativeLength(n)),
        n => Ok(Some(n as usize)),
    }
}

fn len_i32(len: usize) -> i32 {
    // Frames are bounded far below i32::MAX; saturate rather than wrap if a caller goes wild.
    i32::try_from(len).unwrap_or(i32::MAX)
}

impl Jute for i32 {
    fn encode<B: BufMut>(&self, buf: &mut B) {
        buf.put_i32(*self);
    }
    fn decode<B: Buf>(buf: &mut B) -> DecodeResult<Self> {
        need(buf, 4)?;
        Ok(buf.get_i32())
    }
    fn encoded_len(&self) -> usize {
        4
    }
}

impl Jute for i64 {
    fn encode<B: BufMut>(&self, buf: &mut B) {
        buf.put_i64(*self);
    }
    fn decode<B: Buf>(buf: &mut B) -> DecodeResult<Self> {
        need(buf, 8)?;
        Ok(buf.get_i64())
    }
    fn encoded_len(&self) -> usize {
        8
    }
}

impl Jute for bool {
    fn encode<B: BufMut>(&self, buf: &mut B) {
        buf.put_u8(u8::from(*self));
    }
    fn decode<B: Buf>(buf: &mut B) -> DecodeResult<Self> {
        need(buf, 1)?;
        Ok(buf.get_u8() != 0)
    }
    fn encoded_len(&self) -> usize {
        1
    }
}

fn decode_string_body<B: Buf>(buf: &mut B, len: usize) -> DecodeResult<String> {
    need(buf, len)?;
    let mut raw = vec![0u8; len];
    buf.copy_to_slice(&mut raw);
    String::from_utf8(raw).map_err(|_| DecodeError::InvalidUtf8)
}

impl Jute for String {
    fn encode<B: BufMut>(&self, buf: &mut B) {
        buf.put_i32(len_i32(self.len()));
        buf.put_slice(self.as_bytes());
    }
    fn decode<B: Buf>(buf: &mut B) -> DecodeResult<Self> {
        match decode_len(buf)? {
            None => Ok(String::new()),
            Some(len) => decode_string_body(buf, len),
        }
    }
    fn encoded_len(&self) -> usize {
        4 + self.len()
    }
}

impl Jute for Option<String> {
    fn encode<B: BufMut>(&self, buf: &mut B) {
        match self {
            Some(s) => s.encode(buf),
            None => buf.put_i32(-1),
        }
    }
    fn decode<B: Buf>(buf: &mut B) -> DecodeResult<Self> {
        match decode_len(buf)? {
            None => Ok(None),
            Some(len) => decode_string_body(buf, len).map(Some),
        }
    }
    fn encoded_len(&self) -> usize {
        4 + self.as_ref().map_or(0, String::len)
    }
}

impl Jute for Bytes {
    fn encode<B: BufMut>(&self, buf: &mut B) {
        buf.put_i32(len_i32(self.len()));
        buf.put_slice(self);
    }
    fn decode<B: Buf>(buf: &mut B) -> DecodeResult<Self> {
        match decode_len(buf)? {
            None => Ok(Bytes::new()),
            Some(len) => {
                need(buf, len)?;
                Ok(buf.copy_to_bytes(len))
            }
        }
    }
    fn encoded_len(&self) -> usize {
        4 + self.len()
    }
}

impl Jute for Option<Bytes> {
    fn encode<B: BufMut>(&self, buf: &mut B) {
        match self {
            Some(b) => b.encode(buf),
            None => buf.put_i32(-1),
        }
    }
    fn decode<B: Buf>(buf: &mut B) -> DecodeResult<Self> {
        match decode_len(buf)? {
            None => Ok(None),
            Some(len) => {
                need(buf, len)?;
                Ok(Some(buf.copy_to_bytes(len)))
            }
        }
    }
    fn encoded_len(&self) -> usize {
        4 + self.as_ref().map_or(0, Bytes::len)
    }
}

impl<T: Jute> Jute for Vec<T> {
    fn encode<B: BufMut>(&self, buf: &mut B) {
        buf.put_i32(len_i32(self.len()));
        for item in self {
            item.encode(buf);
        }
    }
    fn decode<B: Buf>(buf: &mut B) -> DecodeResult<Self> {
        let Some(count) = decode_len(buf)? else {
            return Ok(Vec::new());
        };
        // Every element takes at least one byte, so a count beyond the remaining input is a lie:
        // cap the allocation by what the input could possibly hold. The cap is in bytes, not
        // elements: an element takes up to 56 bytes in memory for every byte of a lying input.
        need(buf, count.min(1))?;
        let fit = buf.remaining() / std::mem::size_of::<T>().max(1);
        let mut items = Vec::with_capacity(count.min(fit));
        for _ in 0..count {
            items.push(T::decode(buf)?);
        }
        Ok(items)
    }
    fn encoded_len(&self) -> usize {
        4 + self.iter().map(Jute::encoded_len).sum::<usize>()
    }
}

/// Declares jute records: a struct per record with `Jute` implemented field by field, in order.
macro_rules! records {
    ($(
        $(#[$meta:meta])*
        $name:ident { $( $(#[$fmeta:meta])* $field:ident : $ty:ty ),* $(,)? }
    )*) => {$(
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct $name { $( $(#[$fmeta])* pub $field: $ty, )* }

        impl $crate::codec::Jute for $name {
            #[allow(unused_variables)]
            fn encode<B: ::bytes::BufMut>(&self, buf: &mut B) {
                $( $crate::codec::Jute::encode(&self.$field, buf); )*
            }
            #[allow(unused_variables)]
            fn decode<B: ::bytes::Buf>(buf: &mut B) -> $crate::codec::DecodeResult<Self> {
                Ok(Self { $( $field: $crate::codec::Jute::decode(buf)?, )* })
            }
            fn encoded_len(&self) -> usize {
                0 $( + $crate::codec::Jute::encoded_len(&self.$field) )*
            }
        }
    )*};
}
pub(crate) use records;

/// Declares an `i32`-coded enum with an `Unknown(i32)` escape, so that any value round-trips.
macro_rules! int_enum {
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$vmeta:meta])* $variant:ident = $value:expr ),* $(,)? }
        default $default:ident
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )*
            /// A value this version of the protocol does not know.
            Unknown(i32),
        }

        impl $name {
            /// Every known value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// The wire value.
            pub const fn code(self) -> i32 {
                match self {
                    $( $name::$variant => $value, )*
                    $name::Unknown(v) => v,
                }
            }

            /// The value for a wire code (`Unknown` when not known).
            pub const fn from_code(code: i32) -> Self {
                match code {
                    $( $value => $name::$variant, )*
                    other => $name::Unknown(other),
                }
            }
        }

        impl Default for $name {
            fn default() -> Self {
                $name::$default
            }
        }

        impl From<i32> for $name {
            fn from(code: i32) -> Self {
                Self::from_code(code)
            }
        }

        impl From<$name> for i32 {
            fn from(value: $name) -> i32 {
                value.code()
            }
        }

        impl $crate::codec::Jute for $name {
            fn encode<B: ::bytes::BufMut>(&self, buf: &mut B) {
                buf.put_i32(self.code());
            }
            fn decode<B: ::bytes::Buf>(buf: &mut B) -> $crate::codec::DecodeResult<Self> {
                <i32 as $crate::codec::Jute>::decode(buf).map(Self::from_code)
            }
            fn encoded_len(&self) -> usize {
                4
            }
        }
    };
}
pub(crate) use int_enum;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_and_empty_strings() {
        assert_eq!(String::decode_exact(&[0xff, 0xff, 0xff, 0xff]).unwrap(), "");
        assert_eq!(Option::<String>::decode_exact(&[0xff; 4]).unwrap(), None);
        assert_eq!(Option::<String>::None.to_bytes().as_ref(), &[0xff; 4]);
        assert_eq!(Some(String::new()).to_bytes().as_ref(), &[0, 0, 0, 0]);
        assert_eq!(Option::<Bytes>::decode_exact(&[0xff; 4]).unwrap(), None);
        assert_eq!(
            Vec::<i32>::decode_exact(&[0xff; 4]).unwrap(),
            Vec::<i32>::new()
        );
    }

    #[test]
    fn lies_about_lengths_are_errors() {
        assert!(matches!(
            String::decode_exact(&[0x7f, 0xff, 0xff, 0xff, b'a']),
            Err(DecodeError::Truncated { .. })
        ));
        assert!(matches!(
            Vec::<i64>::decode_exact(&[0x7f, 0xff, 0xff, 0xff]),
            Err(DecodeError::Truncated { .. })
        ));
        assert_eq!(
            Bytes::decode_exact(&[0xff, 0xff, 0xff, 0xfe]),
            Err(DecodeError::NegativeLength(-2))
        );
        assert_eq!(
            i32::decode_exact(&[0, 0, 0, 1, 9]),
            Err(DecodeError::TrailingBytes(1))
        );
        assert_eq!(
            String::decode_exact(&[0, 0, 0, 1, 0xff]),
            Err(DecodeError::InvalidUtf8)
        );
    }

    #[test]
    fn bools_are_one_byte() {
        assert_eq!(true.to_bytes().as_ref(), &[1]);
        assert!(bool::decode_exact(&[7]).unwrap());
    }
}
