//! Connect strings (`host:port,host2:port/chroot`) and the chroot.

use std::fmt;
use std::sync::Arc;

use zk_proto::validate_path;

use crate::error::{ArgumentError, Error, Result};

/// The port used when a host has none.
pub const DEFAULT_PORT: u16 = 2181;

/// One server address as written in the connect string; it is resolved again (DNS) on every
/// connection attempt.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostPort {
    /// A host name or an IP literal (IPv6 without brackets).
    pub host: String,
    /// The client port.
    pub port: u16,
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// A parsed connect string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectString {
    /// The servers, in the order written.
    pub hosts: Vec<HostPort>,
    /// The chroot, if any.
    pub chroot: Chroot,
}

impl ConnectString {
    /// Parses `host[:port][,host[:port]...][/chroot]`. IPv6 literals go in brackets
    /// (`[::1]:2181`); the port defaults to 2181.
    pub fn parse(input: &str) -> Result<ConnectString> {
        let bad = |reason: &'static str| {
            Error::BadArguments(ArgumentError::InvalidConnectString {
                input: input.to_string(),
                reason,
            })
        };
        let (servers, chroot) = match input.find('/') {
            Some(i) => (&input[..i], Some(&input[i..])),
            None => (input, None),
        };
        let mut hosts = Vec::new();
        for part in servers.split(',') {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            hosts.push(parse_host(part).map_err(bad)?);
        }
        if hosts.is_empty() {
            return Err(bad("no servers"));
        }
        let chroot = match chroot {
            None => Chroot::none(),
            Some(path) => Chroot::new(path)?,
        };
        Ok(ConnectString { hosts, chroot })
    }
}

fn parse_host(part: &str) -> std::result::Result<HostPort, &'static str> {
    let (host, port) = if let Some(rest) = part.strip_prefix('[') {
        let end = rest.find(']').ok_or("unclosed [ in an IPv6 address")?;
        let host = &rest[..end];
        let after = &rest[end + 1..];
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return Err("unexpected text after an IPv6 address"),
        };
        (host, port)
    } else {
        match part.rsplit_once(':') {
            Some((_, _)) if part.matches(':').count() > 1 => {
                return Err("IPv6 addresses must be written in brackets")
            }
            Some((host, port)) => (host, Some(port)),
            None => (part, None),
        }
    };
    if host.is_empty() {
        return Err("empty host");
    }
    let port = match port {
        None => DEFAULT_PORT,
        Some(p) => p.parse::<u16>().map_err(|_| "invalid port")?,
    };
    Ok(HostPort {
        host: host.to_string(),
        port,
    })
}

/// A client-side root: prepended to every path sent and stripped from every path received.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Chroot(Option<Arc<str>>);

impl Chroot {
    /// No chroot.
    pub fn none() -> Chroot {
        Chroot(None)
    }

    /// A chroot at `path` (`/` is the same as none).
    pub fn new(path: &str) -> Result<Chroot> {
        validate_path(path, false).map_err(|source| {
            Error::BadArguments(ArgumentError::InvalidPath {
                path: path.to_string(),
                source,
            })
        })?;
        Ok(if path == "/" {
            Chroot(None)
        } else {
            Chroot(Some(Arc::from(path)))
        })
    }

    /// The chroot path, if any.
    pub fn as_str(&self) -> Option<&str> {
        self.0.as_deref()
    }

    /// Validates a client path and returns the server path.
    pub fn to_server(&self, path: &str, sequential: bool) -> Result<String> {
        check_path(path, sequential)?;
        Ok(self.prefix(path))
    }

    /// Prepends the chroot to an already valid path.
    pub fn prefix(&self, path: &str) -> String {
        match &self.0 {
            None => path.to_string(),
            Some(root) if path == "/" => root.to_string(),
            Some(root) => {
                let mut s = String::with_capacity(root.len() + path.len());
                s.push_str(root);
                s.push_str(path);
                s
            }
        }
    }

    /// Strips the chroot from a server path; paths outside the chroot (such as
    /// `/zookeeper/config`) are returned unchanged.
    pub fn strip(&self, mut path: String) -> String {
        // In place: the common cases (no chroot, or a path inside it) allocate nothing.
        let Some(root) = self.0.as_deref() else {
            return path;
        };
        if path == root {
            path.truncate(1);
        } else if path.starts_with(root) && path.as_bytes().get(root.len()) == Some(&b'/') {
            path.drain(..root.len());
        }
        path
    }

    /// The client path of a server path, or `None` if it lies outside the chroot.
    pub fn strip_if_inside<'a>(&self, path: &'a str) -> Option<&'a str> {
        match &self.0 {
            None => Some(path),
            Some(root) => match path.strip_prefix(&**root) {
                Some("") => Some("/"),
                Some(rest) if rest.starts_with('/') => Some(rest),
                _ => None,
            },
        }
    }
}

/// Validates a client path (`sequential`: a sequential create's prefix, which may end in `/`).
///
/// Most paths are printable ASCII with no empty, `.` or `..` component: those are accepted
/// here in one pass without allocating. Anything else goes through [`validate_path`], so the
/// verdict and the error are always the protocol crate's.
pub(crate) fn check_path(path: &str, sequential: bool) -> Result<()> {
    if plainly_valid(path.as_bytes(), sequential) {
        return Ok(());
    }
    validate_path(path, sequential).map_err(|source| {
        Error::BadArguments(ArgumentError::InvalidPath {
            path: path.to_string(),
            source,
        })
    })
}

/// A sufficient condition for [`validate_path`] to accept `path`: absolute, only printable
/// ASCII, no empty component, no component starting with a dot (so none is `.` or `..`), and
/// no trailing `/` unless sequential (the server appends the sequence number). Paths it turns
/// down (`/a/.b`, say) go to [`validate_path`], which decides.
///
/// One branch-free pass over byte pairs (every call of every operation pays it).
fn plainly_valid(path: &[u8], sequential: bool) -> bool {
    let Some((&b'/', rest)) = path.split_first() else {
        return false;
    };
    let Some(&last) = rest.last() else {
        return true;
    };
    if last == b'/' && !sequential {
        return false;
    }
    let mut bad = false;
    for (&before, &b) in path.iter().zip(rest) {
        let unprintable = !(0x20..0x7f).contains(&b);
        let empty_or_dot = (before == b'/') & ((b == b'/') | (b == b'.'));
        bad |= unprintable | empty_or_dot;
    }
    !bad
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hp(host: &str, port: u16) -> HostPort {
        HostPort {
            host: host.into(),
            port,
        }
    }

    #[test]
    fn parses_connect_strings() {
        let cs = ConnectString::parse("a:1,b,[::1]:3,[fe80::2]/app/x").unwrap();
        assert_eq!(
            cs.hosts,
            vec![hp("a", 1), hp("b", 2181), hp("::1", 3), hp("fe80::2", 2181)]
        );
        assert_eq!(cs.chroot.as_str(), Some("/app/x"));
        assert_eq!(
            ConnectString::parse("127.0.0.1:2181/").unwrap().chroot,
            Chroot::none()
        );
        for bad in ["", "/app", "a:x", "::1:2", "[::1", "a:1/bad/", ":1"] {
            assert!(ConnectString::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(hp("::1", 3).to_string(), "[::1]:3");
    }

    #[test]
    fn chroot_prefix_and_strip() {
        let c = Chroot::new("/app").unwrap();
        assert_eq!(c.to_server("/", false).unwrap(), "/app");
        assert_eq!(c.to_server("/a", false).unwrap(), "/app/a");
        assert!(c.to_server("a", false).is_err());
        assert_eq!(c.strip("/app/a".into()), "/a");
        assert_eq!(c.strip("/app".into()), "/");
        assert_eq!(c.strip("/zookeeper/config".into()), "/zookeeper/config");
        for path in ["/app", "/app/", "/app/a/b", "/apple", "/ap", "/", "/x/app"] {
            let expected = c.strip_if_inside(path).unwrap_or(path);
            assert_eq!(c.strip(path.into()), expected, "{path}");
        }
        assert_eq!(c.strip_if_inside("/apple"), None);
        assert_eq!(Chroot::none().strip("/x".into()), "/x");
    }

    #[test]
    fn the_fast_path_check_agrees_with_validate_path() {
        // Every string of up to 5 characters over an alphabet that hits each rule.
        let alphabet = ['/', '.', 'a', ' ', '\0', '\u{7f}', 'ü', '\u{1f600}'];
        let mut paths = vec![String::new()];
        let mut frontier = vec![String::new()];
        for _ in 0..5 {
            let mut next = Vec::new();
            for p in &frontier {
                for c in alphabet {
                    let mut q = p.clone();
                    q.push(c);
                    next.push(q);
                }
            }
            paths.extend(next.iter().cloned());
            frontier = next;
        }
        for path in &paths {
            for sequential in [false, true] {
                let expected = validate_path(path, sequential).map_err(|source| {
                    Error::BadArguments(ArgumentError::InvalidPath {
                        path: path.clone(),
                        source,
                    })
                });
                assert_eq!(
                    check_path(path, sequential),
                    expected,
                    "{path:?} {sequential}"
                );
                if plainly_valid(path.as_bytes(), sequential) {
                    assert_eq!(validate_path(path, sequential), Ok(()), "{path:?}");
                }
            }
        }
    }
}
