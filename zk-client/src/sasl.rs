//! The client side of SASL DIGEST-MD5 (RFC 2831), as ZooKeeper's Java client speaks it: the
//! service `zookeeper`, the server name `zk-sasl-md5` (so the digest URI is
//! `zookeeper/zk-sasl-md5`), `qop=auth` and `algorithm=md5-sess`.
//!
//! Pure: the session core feeds it the server's tokens and sends what it returns.
//!
//! ```text
//! Start --initial()--> AwaitChallenge --challenge--> AwaitRspauth --rspauth=..--> Done
//!                         (any step may fail: the session ends with AuthFailed)
//! ```

use md5::{Digest, Md5};

/// The service name ZooKeeper's client uses.
pub(crate) const SERVICE: &str = "zookeeper";
/// The server name (and default realm) ZooKeeper hard-wires for DIGEST-MD5.
pub(crate) const SERVER_NAME: &str = "zk-sasl-md5";

/// A SASL user and password; `Debug` does not show the password.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Credentials {
    pub(crate) user: String,
    pub(crate) password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Stage {
    Start,
    AwaitChallenge,
    AwaitRspauth(String),
    Done,
}

/// What to do after a server token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ClientStep {
    /// Send this token to the server.
    Send(Vec<u8>),
    /// The server proved it knows the password too: authenticated.
    Done,
}

/// One DIGEST-MD5 exchange.
#[derive(Clone)]
pub(crate) struct DigestMd5Client {
    user: String,
    password: String,
    cnonce: String,
    stage: Stage,
}

impl std::fmt::Debug for DigestMd5Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigestMd5Client")
            .field("user", &self.user)
            .field("stage", &self.stage)
            .finish_non_exhaustive()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn md5_hex(data: &[u8]) -> String {
    hex(&Md5::digest(data))
}

/// RFC 2831 (and Java): ISO 8859-1 bytes when every character fits, else UTF-8.
fn latin1_or_utf8(s: &str) -> Vec<u8> {
    if s.chars().all(|c| u32::from(c) <= 0xff) {
        s.chars().map(|c| c as u8).collect()
    } else {
        s.as_bytes().to_vec()
    }
}

/// Splits `k=v,k="v"` directives (keys lowercased, quoted values unescaped).
fn directives(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        if chars.peek().is_none() {
            return Ok(out);
        }
        let key: String = std::iter::from_fn(|| chars.next_if(|c| *c != '=')).collect();
        if chars.next() != Some('=') {
            return Err(format!("directive {key:?} without a value"));
        }
        let mut value = String::new();
        if chars.next_if_eq(&'"').is_some() {
            loop {
                match chars.next() {
                    Some('\\') => value.push(chars.next().ok_or("unterminated value")?),
                    Some('"') => break,
                    Some(c) => value.push(c),
                    None => return Err("unterminated quoted value".into()),
                }
            }
        } else {
            value = std::iter::from_fn(|| chars.next_if(|c| *c != ','))
                .collect::<String>()
                .trim()
                .to_string();
        }
        out.push((key.trim().to_ascii_lowercase(), value));
    }
}

fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// RFC 2831 §2.1.2.1: the `response` value (`a2_prefix` "AUTHENTICATE") or `rspauth` ("").
fn response_value(
    creds: (&str, &str, &str),
    nonce: &str,
    cnonce: &str,
    a2_prefix: &str,
    uri: &str,
) -> String {
    let (user, realm, password) = creds;
    let mut h = Md5::new();
    h.update(latin1_or_utf8(user));
    h.update(b":");
    h.update(latin1_or_utf8(realm));
    h.update(b":");
    h.update(latin1_or_utf8(password));
    let mut a1 = h.finalize().to_vec();
    a1.extend_from_slice(format!(":{nonce}:{cnonce}").as_bytes());
    let ha1 = md5_hex(&a1);
    let ha2 = md5_hex(format!("{a2_prefix}:{uri}").as_bytes());
    md5_hex(format!("{ha1}:{nonce}:00000001:{cnonce}:auth:{ha2}").as_bytes())
}

impl DigestMd5Client {
    /// An exchange for `user` with `password`; `cnonce` must be unpredictable.
    pub(crate) fn new(user: String, password: String, cnonce: String) -> DigestMd5Client {
        DigestMd5Client {
            user,
            password,
            cnonce,
            stage: Stage::Start,
        }
    }

    /// The first token: empty (DIGEST-MD5 has no initial response; the server challenges).
    pub(crate) fn initial(&mut self) -> Vec<u8> {
        self.stage = Stage::AwaitChallenge;
        Vec::new()
    }

    /// Handles the server's token.
    pub(crate) fn step(&mut self, token: &[u8]) -> Result<ClientStep, String> {
        let text = std::str::from_utf8(token).map_err(|_| "server token is not UTF-8")?;
        let fields = directives(text)?;
        let get = |k: &str| {
            fields
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        match std::mem::replace(&mut self.stage, Stage::Done) {
            Stage::AwaitChallenge => {
                let nonce = get("nonce").ok_or("challenge without a nonce")?;
                if get("algorithm") != Some("md5-sess") {
                    return Err("challenge without algorithm=md5-sess".into());
                }
                if let Some(qops) = get("qop") {
                    if !qops.split(',').any(|q| q.trim() == "auth") {
                        return Err(format!("server offers no qop=auth ({qops})"));
                    }
                }
                let realm = get("realm").unwrap_or(SERVER_NAME).to_string();
                let uri = format!("{SERVICE}/{SERVER_NAME}");
                let creds = (self.user.as_str(), realm.as_str(), self.password.as_str());
                let response = response_value(creds, nonce, &self.cnonce, "AUTHENTICATE", &uri);
                let rspauth = response_value(creds, nonce, &self.cnonce, "", &uri);
                let charset = if get("charset") == Some("utf-8") {
                    "charset=utf-8,"
                } else {
                    ""
                };
                let token = format!(
                    "{charset}username={},realm={},nonce={},nc=00000001,cnonce={},\
                     digest-uri={},maxbuf=65536,response={response},qop=auth",
                    quote(&self.user),
                    quote(&realm),
                    quote(nonce),
                    quote(&self.cnonce),
                    quote(&uri),
                );
                self.stage = Stage::AwaitRspauth(rspauth);
                Ok(ClientStep::Send(token.into_bytes()))
            }
            Stage::AwaitRspauth(expected) => {
                if get("rspauth") == Some(expected.as_str()) {
                    Ok(ClientStep::Done)
                } else {
                    Err("the server's rspauth does not match: it does not know the password".into())
                }
            }
            Stage::Start | Stage::Done => Err("unexpected SASL token".into()),
        }
    }
}

/// The `rspauth` value of a server in realm `zk-sasl-md5` (for the session core's tests).
#[cfg(test)]
pub(crate) fn rspauth_for_tests(user: &str, password: &str, nonce: &str, cnonce: &str) -> String {
    let uri = format!("{SERVICE}/{SERVER_NAME}");
    response_value((user, SERVER_NAME, password), nonce, cnonce, "", &uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 2831 §4: chris / secret, realm elwood.innosoft.com, imap.
    #[test]
    fn rfc_2831_example() {
        let creds = ("chris", "elwood.innosoft.com", "secret");
        let uri = "imap/elwood.innosoft.com";
        let (nonce, cnonce) = ("OA6MG9tEQGm2hh", "OA6MHXh6VqTrRk");
        assert_eq!(
            response_value(creds, nonce, cnonce, "AUTHENTICATE", uri),
            "d388dad90d4bbd760a152321f2143af7"
        );
        assert_eq!(
            response_value(creds, nonce, cnonce, "", uri),
            "ea40f60335c427b5527b84dbabcdfffd"
        );
    }

    #[test]
    fn exchange_and_failures() {
        let mut c = DigestMd5Client::new("bob".into(), "pw".into(), "cn".into());
        assert!(c.initial().is_empty());
        let challenge =
            br#"realm="zk-sasl-md5",nonce="abc",qop="auth",charset=utf-8,algorithm=md5-sess"#;
        let ClientStep::Send(response) = c.step(challenge).unwrap() else {
            panic!("a response");
        };
        let response = String::from_utf8(response).unwrap();
        let fields = directives(&response).unwrap();
        let field = |k: &str| fields.iter().find(|(key, _)| key == k).unwrap().1.clone();
        assert_eq!(field("digest-uri"), "zookeeper/zk-sasl-md5");
        assert_eq!(field("username"), "bob");
        let creds = ("bob", "zk-sasl-md5", "pw");
        let rspauth = response_value(creds, "abc", "cn", "", "zookeeper/zk-sasl-md5");
        assert_eq!(
            field("response"),
            response_value(creds, "abc", "cn", "AUTHENTICATE", "zookeeper/zk-sasl-md5")
        );
        let mut forged = c.clone();
        assert!(forged.step(b"rspauth=00").is_err());
        assert_eq!(
            c.step(format!("rspauth={rspauth}").as_bytes()),
            Ok(ClientStep::Done)
        );
        assert!(c.step(b"rspauth=x").is_err(), "nothing after done");
        let mut c = DigestMd5Client::new("bob".into(), "pw".into(), "cn".into());
        c.initial();
        assert!(c
            .step(br#"nonce="n",qop="auth-conf",algorithm=md5-sess"#)
            .is_err());
        for garbage in [&b"\xff"[..], b"nonce", b"nonce=\"x", b""] {
            let mut c = DigestMd5Client::new("u".into(), "p".into(), "c".into());
            c.initial();
            assert!(c.step(garbage).is_err());
        }
    }
}
