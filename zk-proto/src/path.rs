//! Path validation with ZooKeeper's rules (`PathUtils.validatePath`), shared by client and server.

/// Why a path is invalid. Servers answer these with `BadArguments`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    /// The path is empty.
    #[error("path must not be empty")]
    Empty,
    /// The path does not start with `/`.
    #[error("path must start with / character")]
    NotAbsolute,
    /// The path ends with `/` (only the root may).
    #[error("path must not end with / character")]
    TrailingSlash,
    /// Two slashes in a row.
    #[error("empty node name specified @{0}")]
    EmptyNodeName(usize),
    /// A `.` or `..` component.
    #[error("relative paths not allowed @{0}")]
    Relative(usize),
    /// A NUL, control, surrogate/private-use, or non-BMP character.
    #[error("invalid character @{0}")]
    InvalidChar(usize),
}

/// Checks `path` as a create (`sequential` = a sequential create, whose path may end in `/`
/// because the server appends the sequence number) or any other request would.
pub fn validate_path(path: &str, sequential: bool) -> Result<(), PathError> {
    if sequential {
        // ZooKeeper validates `path + "1"`: the suffix makes a trailing slash legal.
        let mut with_suffix = String::with_capacity(path.len() + 1);
        with_suffix.push_str(path);
        with_suffix.push('1');
        return validate_path(&with_suffix, false);
    }
    let chars: Vec<char> = path.chars().collect();
    match chars.as_slice() {
        [] => return Err(PathError::Empty),
        [first, ..] if *first != '/' => return Err(PathError::NotAbsolute),
        [_] => return Ok(()),
        [.., '/'] => return Err(PathError::TrailingSlash),
        _ => {}
    }
    for i in 1..chars.len() {
        let c = chars[i];
        let last = chars[i - 1];
        let next_ends = i + 1 == chars.len() || chars[i + 1] == '/';
        if c == '\0' {
            return Err(PathError::InvalidChar(i));
        } else if c == '/' && last == '/' {
            return Err(PathError::EmptyNodeName(i));
        } else if c == '.' && last == '.' {
            if chars[i - 2] == '/' && next_ends {
                return Err(PathError::Relative(i));
            }
        } else if c == '.' {
            if last == '/' && next_ends {
                return Err(PathError::Relative(i));
            }
        } else if is_forbidden_char(c) {
            return Err(PathError::InvalidChar(i));
        }
    }
    Ok(())
}

/// Characters Java's `PathUtils` rejects. Java sees a non-BMP character as two surrogates
/// (U+D800..U+DFFF), which it rejects, so those are forbidden here too.
fn is_forbidden_char(c: char) -> bool {
    let code = u32::from(c);
    matches!(code, 0x1..=0x1f | 0x7f..=0x9f | 0xd800..=0xf8ff | 0xfff0..)
}

/// The parent of an absolute path (`"/"` for top-level nodes; `None` for the root).
pub fn parent(path: &str) -> Option<&str> {
    if path == "/" {
        return None;
    }
    match path.rfind('/') {
        Some(0) => Some("/"),
        Some(i) => Some(&path[..i]),
        None => None,
    }
}

/// The last component of a path (`""` for the root).
pub fn basename(path: &str) -> &str {
    path.rfind('/').map_or(path, |i| &path[i + 1..])
}

/// Joins a parent path and a child name.
pub fn join(parent: &str, child: &str) -> String {
    if parent == "/" {
        format!("/{child}")
    } else {
        format!("{parent}/{child}")
    }
}

/// The sequence suffix ZooKeeper appends: the parent's cversion as `%010d`.
pub fn sequence_suffix(cversion: i32) -> String {
    format!("{cversion:010}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_paths() {
        for p in [
            "/",
            "/a",
            "/a/b",
            "/a.b",
            "/..a",
            "/a/...",
            "/zookeeper/quota",
            "/ü",
        ] {
            assert_eq!(validate_path(p, false), Ok(()), "{p}");
        }
        assert_eq!(validate_path("/a/", true), Ok(()));
        assert_eq!(validate_path("/a/lock-", true), Ok(()));
    }

    #[test]
    fn invalid_paths() {
        assert_eq!(validate_path("", false), Err(PathError::Empty));
        assert_eq!(validate_path("a", false), Err(PathError::NotAbsolute));
        assert_eq!(validate_path("/a/", false), Err(PathError::TrailingSlash));
        assert_eq!(
            validate_path("/a//b", false),
            Err(PathError::EmptyNodeName(3))
        );
        assert_eq!(validate_path("/a/./b", false), Err(PathError::Relative(3)));
        assert_eq!(validate_path("/a/..", false), Err(PathError::Relative(4)));
        assert_eq!(validate_path("/.", false), Err(PathError::Relative(1)));
        assert_eq!(validate_path("/a\0", false), Err(PathError::InvalidChar(2)));
        assert_eq!(
            validate_path("/a\u{1}", false),
            Err(PathError::InvalidChar(2))
        );
        assert_eq!(
            validate_path("/\u{e000}", false),
            Err(PathError::InvalidChar(1))
        );
        assert_eq!(
            validate_path("/\u{1f600}", false),
            Err(PathError::InvalidChar(1))
        );
        assert_eq!(validate_path("//", true), Err(PathError::EmptyNodeName(1)));
    }

    #[test]
    fn helpers() {
        assert_eq!(parent("/a/b"), Some("/a"));
        assert_eq!(parent("/a"), Some("/"));
        assert_eq!(parent("/"), None);
        assert_eq!(basename("/a/b"), "b");
        assert_eq!(join("/", "a"), "/a");
        assert_eq!(join("/a", "b"), "/a/b");
        assert_eq!(sequence_suffix(7), "0000000007");
        assert_eq!(sequence_suffix(i32::MIN), "-2147483648");
    }
}
