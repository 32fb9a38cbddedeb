//! The server side of DIGEST-MD5 (RFC 2831), `qop=auth` only.

use std::collections::BTreeMap;
use std::sync::Arc;

use md5::{Digest, Md5};

/// The realm (ZooKeeper's hard-wired server name).
pub const REALM: &str = "zk-sasl-md5";
/// The digest URI clients must use: `zookeeper/zk-sasl-md5`.
pub const DIGEST_URI: &str = "zookeeper/zk-sasl-md5";

/// What to answer a client token with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaslStep {
    /// Send this challenge and wait for the next token.
    Challenge(Vec<u8>),
    /// Authenticated: send this last token (`rspauth=...`); the user is the identity.
    Done {
        /// The final server token.
        token: Vec<u8>,
        /// The authenticated user.
        user: String,
    },
}

/// Why an exchange failed (the client gets `AuthFailed` either way).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SaslError {
    /// The token breaks the protocol.
    #[error("DIGEST-MD5 protocol violation: {0}")]
    Protocol(String),
    /// No password is configured for the user.
    #[error("DIGEST-MD5: no password for user {0:?}")]
    UnknownUser(String),
    /// The response does not match the user's password.
    #[error("DIGEST-MD5: wrong password for user {0:?}")]
    WrongPassword(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Start,
    Challenged,
    Finished,
}

/// One connection's DIGEST-MD5 exchange.
#[derive(Clone)]
pub struct DigestMd5Server {
    users: Arc<BTreeMap<String, String>>,
    nonce: String,
    stage: Stage,
}

impl std::fmt::Debug for DigestMd5Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigestMd5Server")
            .field("stage", &self.stage)
            .finish_non_exhaustive()
    }
}

/// Hex of MD5.
pub(crate) fn md5_hex(parts: &[&[u8]]) -> String {
    let mut h = Md5::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// RFC 2831's rule (and Java's): ISO 8859-1 bytes when every character fits, else UTF-8.
pub(crate) fn latin1_or_utf8(s: &str) -> Vec<u8> {
    if s.chars().all(|c| u32::from(c) <= 0xff) {
        s.chars().map(|c| c as u8).collect()
    } else {
        s.as_bytes().to_vec()
    }
}

/// The `response` (or, with `a2_prefix` empty, the `rspauth`) value of RFC 2831 §2.1.2.1.
#[allow(clippy::too_many_arguments)]
pub(crate) fn response_value(
    user: &str,
    realm: &str,
    password: &str,
    nonce: &str,
    cnonce: &str,
    authzid: Option<&str>,
    nc: &str,
    a2_prefix: &str,
    uri: &str,
) -> String {
    let mut h = Md5::new();
    h.update(latin1_or_utf8(user));
    h.update(b":");
    h.update(latin1_or_utf8(realm));
    h.update(b":");
    h.update(latin1_or_utf8(password));
    let inner = h.finalize();
    let mut a1: Vec<u8> = inner.to_vec();
    a1.extend_from_slice(format!(":{nonce}:{cnonce}").as_bytes());
    if let Some(z) = authzid {
        a1.push(b':');
        a1.extend_from_slice(z.as_bytes());
    }
    let ha1 = md5_hex(&[&a1]);
    let ha2 = md5_hex(&[a2_prefix.as_bytes(), b":", uri.as_bytes()]);
    md5_hex(&[format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}").as_bytes()])
}

/// Splits `k=v,k="v"` directives (keys lowercased; quoted values unescaped).
pub(crate) fn parse_directives(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        if chars.peek().is_none() {
            return Ok(out);
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' {
                break;
            }
            key.push(c);
            chars.next();
        }
        if chars.next() != Some('=') {
            return Err(format!("directive {key:?} without a value"));
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('\\') => value.push(chars.next().ok_or("unterminated value")?),
                    Some('"') => break,
                    Some(c) => value.push(c),
                    None => return Err("unterminated quoted value".into()),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                value.push(c);
                chars.next();
            }
            value = value.trim().to_string();
        }
        out.push((key.trim().to_ascii_lowercase(), value));
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl DigestMd5Server {
    /// An exchange against `users` (name to password) with this server nonce (which must be
    /// unpredictable: use fresh random bytes).
    pub fn new(users: Arc<BTreeMap<String, String>>, nonce: String) -> DigestMd5Server {
        DigestMd5Server {
            users,
            nonce,
            stage: Stage::Start,
        }
    }

    /// Whether the exchange finished successfully.
    pub fn is_complete(&self) -> bool {
        self.stage == Stage::Finished
    }

    /// Handles the client's next token.
    pub fn step(&mut self, token: &[u8]) -> Result<SaslStep, SaslError> {
        match self.stage {
            Stage::Start => {
                if !token.is_empty() {
                    return Err(SaslError::Protocol(
                        "DIGEST-MD5 has no initial response".into(),
                    ));
                }
                self.stage = Stage::Challenged;
                Ok(SaslStep::Challenge(
                    format!(
                        "realm=\"{REALM}\",nonce=\"{}\",qop=\"auth\",charset=utf-8,\
                         algorithm=md5-sess",
                        self.nonce
                    )
                    .into_bytes(),
                ))
            }
            Stage::Challenged => {
                let result = self.check_response(token);
                // One try per exchange: a failed response ends it.
                self.stage = if result.is_ok() {
                    Stage::Finished
                } else {
                    Stage::Start
                };
                result
            }
            Stage::Finished => Err(SaslError::Protocol("exchange already complete".into())),
        }
    }

    fn check_response(&self, token: &[u8]) -> Result<SaslStep, SaslError> {
        let text = std::str::from_utf8(token)
            .map_err(|_| SaslError::Protocol("response is not UTF-8".into()))?;
        let directives = parse_directives(text).map_err(SaslError::Protocol)?;
        let get = |k: &str| {
            directives
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        let need = |k: &str| get(k).ok_or_else(|| SaslError::Protocol(format!("missing {k}")));
        let user = need("username")?;
        let cnonce = need("cnonce")?;
        let nc = need("nc")?;
        let uri = need("digest-uri")?;
        let response = need("response")?;
        let realm = get("realm").unwrap_or("");
        if need("nonce")? != self.nonce {
            return Err(SaslError::Protocol("nonce mismatch".into()));
        }
        if nc != "00000001" {
            return Err(SaslError::Protocol(format!("unexpected nonce count {nc}")));
        }
        if get("qop").is_some_and(|q| q != "auth") {
            return Err(SaslError::Protocol("only qop=auth is offered".into()));
        }
        if uri != DIGEST_URI {
            return Err(SaslError::Protocol(format!(
                "mismatched digest-uri {uri:?}"
            )));
        }
        if !realm.is_empty() && realm != REALM {
            return Err(SaslError::Protocol(format!("unknown realm {realm:?}")));
        }
        let authzid = get("authzid");
        let password = self
            .users
            .get(user)
            .ok_or_else(|| SaslError::UnknownUser(user.to_string()))?;
        let expected = response_value(
            user,
            realm,
            password,
            &self.nonce,
            cnonce,
            authzid,
            nc,
            "AUTHENTICATE",
            uri,
        );
        if !constant_time_eq(
            expected.as_bytes(),
            response.to_ascii_lowercase().as_bytes(),
        ) {
            return Err(SaslError::WrongPassword(user.to_string()));
        }
        if authzid.is_some_and(|z| z != user) {
            // ZooKeeper authorizes the authentication id, never another identity.
            return Err(SaslError::Protocol("authzid differs from the user".into()));
        }
        let rspauth = response_value(
            user,
            realm,
            password,
            &self.nonce,
            cnonce,
            authzid,
            nc,
            "",
            uri,
        );
        Ok(SaslStep::Done {
            token: format!("rspauth={rspauth}").into_bytes(),
            user: user.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 2831 §4's example: chris / secret at elwood.innosoft.com.
    #[test]
    fn rfc_2831_example() {
        let r = response_value(
            "chris",
            "elwood.innosoft.com",
            "secret",
            "OA6MG9tEQGm2hh",
            "OA6MHXh6VqTrRk",
            None,
            "00000001",
            "AUTHENTICATE",
            "imap/elwood.innosoft.com",
        );
        assert_eq!(r, "d388dad90d4bbd760a152321f2143af7");
        let rspauth = response_value(
            "chris",
            "elwood.innosoft.com",
            "secret",
            "OA6MG9tEQGm2hh",
            "OA6MHXh6VqTrRk",
            None,
            "00000001",
            "",
            "imap/elwood.innosoft.com",
        );
        assert_eq!(rspauth, "ea40f60335c427b5527b84dbabcdfffd");
    }

    fn server() -> DigestMd5Server {
        let users = BTreeMap::from([("bob".to_string(), "bobsecret".to_string())]);
        DigestMd5Server::new(Arc::new(users), "n0nce".into())
    }

    fn client_response(password: &str, nonce: &str) -> String {
        let r = response_value(
            "bob",
            REALM,
            password,
            nonce,
            "cn",
            None,
            "00000001",
            "AUTHENTICATE",
            DIGEST_URI,
        );
        format!(
            "charset=utf-8,username=\"bob\",realm=\"{REALM}\",nonce=\"{nonce}\",nc=00000001,\
             cnonce=\"cn\",digest-uri=\"{DIGEST_URI}\",maxbuf=65536,response={r},qop=auth"
        )
    }

    #[test]
    fn exchange_succeeds_and_fails() {
        let mut s = server();
        let SaslStep::Challenge(c) = s.step(b"").unwrap() else {
            panic!("a challenge first");
        };
        let c = String::from_utf8(c).unwrap();
        let directives = parse_directives(&c).unwrap();
        assert!(directives.contains(&("realm".into(), REALM.into())));
        assert!(directives.contains(&("nonce".into(), "n0nce".into())));
        match s
            .step(client_response("bobsecret", "n0nce").as_bytes())
            .unwrap()
        {
            SaslStep::Done { user, token } => {
                assert_eq!(user, "bob");
                assert!(token.starts_with(b"rspauth="));
            }
            other => panic!("{other:?}"),
        }
        assert!(s.is_complete());
        let mut s = server();
        s.step(b"").unwrap();
        assert_eq!(
            s.step(client_response("guess", "n0nce").as_bytes()),
            Err(SaslError::WrongPassword("bob".into()))
        );
        let mut s = server();
        s.step(b"").unwrap();
        assert!(matches!(
            s.step(client_response("bobsecret", "other").as_bytes()),
            Err(SaslError::Protocol(_))
        ));
        assert!(matches!(server().step(b"x"), Err(SaslError::Protocol(_))));
    }

    #[test]
    fn hostile_tokens_never_panic() {
        for token in [
            &b"username"[..],
            b"username=\"",
            b"=,=,=",
            b"\xff\xfe",
            b"username=bob,,,,nonce=\"\\",
        ] {
            let mut s = server();
            s.step(b"").unwrap();
            assert!(s.step(token).is_err());
        }
    }
}
