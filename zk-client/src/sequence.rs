//! Sequence suffixes of sequential nodes.
//!
//! ZooKeeper names a sequential node `<name><suffix>`, the suffix being the parent's child
//! version counter (`cversion`, an `int32`) formatted as Java's `"%010d"`: ten characters,
//! zero-padded after the sign. `1` becomes `0000000001`; past `2^31 - 1` the counter wraps to
//! negative values, and `-1` becomes `-000000001` (still ten characters) while values from
//! `-2147483648` to `-1000000000` take eleven (`-2147483648`).

use std::fmt;

/// A sequential node's sequence number (see [`parse_sequence`]).
///
/// `Display` formats it as ZooKeeper does (`%010d`), so
/// `format!("{name}{seq}")` rebuilds the node name.
///
/// It orders by value: after the counter wraps, new (negative) sequences sort before the old
/// ones, as they do in every ZooKeeper client that sorts numerically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sequence(pub i32);

impl fmt::Display for Sequence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Rust pads after the sign, like Java's `%010d`: -1 -> "-000000001".
        write!(f, "{:010}", self.0)
    }
}

/// The length of a sequence suffix (without the 11-character negative values).
pub const SEQUENCE_LEN: usize = 10;

/// The sequence suffix of a sequential node's name: its last ten characters, parsed as an
/// `i32` (`lock-0000000042` → `Sequence(42)`, `lock--000000001` → `Sequence(-1)`).
///
/// `None` if the name is shorter than ten characters or they are no `%010d` number.
///
/// The eleven-character negative suffixes (`-2147483648` ..= `-1000000000`, reached after
/// the counter wrapped past `2^31 - 1` and kept for the next billion creates) cannot be told
/// apart from a name ending in `-` followed by a positive ten-digit suffix
/// (`lock-` + `2000000000` vs `lock` + `-2000000000`), so this function reads them as the
/// positive value, except where the ten digits do not fit an `i32` (`-2147483648`). Use
/// [`parse_sequence_after`], which knows the name before the suffix, to read them exactly.
pub fn parse_sequence(name: &str) -> Option<Sequence> {
    let bytes = name.as_bytes();
    if bytes.len() < SEQUENCE_LEN {
        return None;
    }
    let tail = &bytes[bytes.len() - SEQUENCE_LEN..];
    match parse_suffix(tail) {
        Some(seq) => Some(seq),
        // Ten digits above i32::MAX: only the 11-character `-2147483648` ends like that.
        None if bytes.len() > SEQUENCE_LEN
            && tail.iter().all(u8::is_ascii_digit)
            && bytes[bytes.len() - SEQUENCE_LEN - 1] == b'-' =>
        {
            parse_suffix(&bytes[bytes.len() - SEQUENCE_LEN - 1..])
        }
        None => None,
    }
}

/// The sequence suffix of `name` when it is `prefix` followed by a suffix (the name given at
/// create time, e.g. `lock-`, or a protected `_c_<uuid>-lock-`): exact for every `i32`,
/// the eleven-character negative values included. `None` if `name` does not start with
/// `prefix` or the rest is no `%010d` number.
pub fn parse_sequence_after(name: &str, prefix: &str) -> Option<Sequence> {
    let rest = name.strip_prefix(prefix)?;
    let bytes = rest.as_bytes();
    match bytes.len() {
        SEQUENCE_LEN => parse_suffix(bytes),
        11 if bytes[0] == b'-' => parse_suffix(bytes),
        _ => None,
    }
}

/// Parses a `%010d` suffix: ten digits, or `-` and nine digits, or `-` and ten digits.
fn parse_suffix(suffix: &[u8]) -> Option<Sequence> {
    let (negative, digits) = match suffix.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, suffix),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    // At most 10 digits: fits an i64 without overflow.
    let magnitude = digits
        .iter()
        .fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0'));
    let value = if negative { -magnitude } else { magnitude };
    i32::try_from(value).ok().map(Sequence)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_positive_and_negative_suffixes() {
        assert_eq!(parse_sequence("lock-0000000042"), Some(Sequence(42)));
        assert_eq!(parse_sequence("0000000000"), Some(Sequence(0)));
        assert_eq!(parse_sequence("x2147483647"), Some(Sequence(i32::MAX)));
        assert_eq!(parse_sequence("lock--000000001"), Some(Sequence(-1)));
        assert_eq!(
            parse_sequence("lock--999999999"),
            Some(Sequence(-999_999_999))
        );
        assert_eq!(parse_sequence("lock--2147483648"), Some(Sequence(i32::MIN)));
        assert_eq!(parse_sequence("lock_000000001"), None, "nine digits");
        // `lock` + -1 (not `lock-` + nine digits).
        assert_eq!(parse_sequence("lock-000000001"), Some(Sequence(-1)));
        assert_eq!(parse_sequence("000000001"), None);
        assert_eq!(parse_sequence("lock-00000x0001"), None);
        assert_eq!(parse_sequence("lock_2147483648"), None, "above i32::MAX");
        assert_eq!(parse_sequence("2147483648"), None);
        assert_eq!(parse_sequence("lock-+000000001"), None);
        assert_eq!(parse_sequence("ünïcødé-0000000007"), Some(Sequence(7)));
        assert_eq!(parse_sequence("ab€cdefgh"), None);
        assert_eq!(parse_sequence("abcdefgh€"), None);
    }

    #[test]
    fn with_a_known_prefix_every_value_is_exact() {
        assert_eq!(
            parse_sequence_after("lock--2000000000", "lock-"),
            Some(Sequence(-2_000_000_000))
        );
        assert_eq!(
            parse_sequence_after("lock-2000000000", "lock-"),
            Some(Sequence(2_000_000_000))
        );
        assert_eq!(
            parse_sequence_after("lock--000000001", "lock-"),
            Some(Sequence(-1))
        );
        assert_eq!(parse_sequence_after("lock-0000000001", "latch-"), None);
        assert_eq!(parse_sequence_after("lock-00000000001", "lock-"), None);
        assert_eq!(parse_sequence_after("lock-", "lock-"), None);
    }

    #[test]
    fn display_matches_java_format() {
        // String.format(Locale.ENGLISH, "%010d", v) for each v.
        for (value, text) in [
            (0, "0000000000"),
            (42, "0000000042"),
            (i32::MAX, "2147483647"),
            (-1, "-000000001"),
            (-999_999_999, "-999999999"),
            (-1_000_000_000, "-1000000000"),
            (i32::MIN, "-2147483648"),
        ] {
            assert_eq!(Sequence(value).to_string(), text);
            assert_eq!(
                parse_sequence_after(&format!("n-{text}"), "n-"),
                Some(Sequence(value))
            );
        }
    }

    #[test]
    fn every_value_round_trips_through_display() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..10_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let value = state as i32;
            let name = format!("q-{}", Sequence(value));
            assert_eq!(parse_sequence_after(&name, "q-"), Some(Sequence(value)));
            if value > -1_000_000_000 || value == i32::MIN {
                assert_eq!(parse_sequence(&name), Some(Sequence(value)), "{name}");
            }
        }
    }
}
