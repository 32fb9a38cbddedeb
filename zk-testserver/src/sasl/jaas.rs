//! The JAAS login configuration file (`-Djava.security.auth.login.config=...`).
//!
//! ```text
//! Server {
//!     org.apache.zookeeper.server.auth.DigestLoginModule required
//!     user_super="adminsecret"
//!     user_bob="bobsecret";
//! };
//! ```
//!
//! A file holds sections (`Name { entries };`), an entry is `module.Class flag option=value
//! ... ;`, values may be quoted, and `//` and `/* */` comments are allowed.

use std::collections::BTreeMap;

/// ZooKeeper's login module for DIGEST-MD5 users.
pub const DIGEST_LOGIN_MODULE: &str = "org.apache.zookeeper.server.auth.DigestLoginModule";

/// One login module entry of a section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JaasEntry {
    /// The login module class.
    pub module: String,
    /// `required`, `requisite`, `sufficient` or `optional`.
    pub flag: String,
    /// Its options, in file order.
    pub options: Vec<(String, String)>,
}

impl JaasEntry {
    /// The `user_<name>="<password>"` options of a [`DIGEST_LOGIN_MODULE`] entry.
    pub fn digest_users(&self) -> BTreeMap<String, String> {
        if self.module != DIGEST_LOGIN_MODULE {
            return BTreeMap::new();
        }
        self.options
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix("user_")?.to_string(), v.clone())))
            .collect()
    }
}

/// A JAAS file that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("JAAS config: {0}")]
pub struct JaasError(pub String);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    Quoted(String),
    Punct(char),
}

fn tokenize(text: &str) -> Result<Vec<Token>, JaasError> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut prev = ' ';
                loop {
                    match chars.next() {
                        Some('/') if prev == '*' => break,
                        Some(c) => prev = c,
                        None => return Err(JaasError("unterminated comment".into())),
                    }
                }
            }
            '{' | '}' | ';' | '=' => out.push(Token::Punct(c)),
            '"' | '\'' => {
                let mut s = String::new();
                loop {
                    match chars.next() {
                        Some('\\') => match chars.next() {
                            Some(e) => s.push(e),
                            None => return Err(JaasError("unterminated string".into())),
                        },
                        Some(q) if q == c => break,
                        Some(ch) => s.push(ch),
                        None => return Err(JaasError("unterminated string".into())),
                    }
                }
                out.push(Token::Quoted(s));
            }
            c => {
                let mut s = String::from(c);
                while let Some(&n) = chars.peek() {
                    if n.is_whitespace() || matches!(n, '{' | '}' | ';' | '=' | '"' | '\'') {
                        break;
                    }
                    s.push(n);
                    chars.next();
                }
                out.push(Token::Word(s));
            }
        }
    }
    Ok(out)
}

/// Parses a JAAS file into its sections.
pub fn parse_jaas(text: &str) -> Result<BTreeMap<String, Vec<JaasEntry>>, JaasError> {
    let tokens = tokenize(text)?;
    let mut it = tokens.into_iter().peekable();
    let mut sections = BTreeMap::new();
    let err = |what: &str| JaasError(format!("expected {what}"));
    while let Some(tok) = it.next() {
        let Token::Word(name) = tok else {
            return Err(err("a section name"));
        };
        if it.next() != Some(Token::Punct('{')) {
            return Err(err("'{' after the section name"));
        }
        let mut entries = Vec::new();
        loop {
            match it.next() {
                Some(Token::Punct('}')) => break,
                Some(Token::Word(module)) => {
                    let Some(Token::Word(flag)) = it.next() else {
                        return Err(err("a control flag after the login module"));
                    };
                    let mut options = Vec::new();
                    loop {
                        match it.next() {
                            Some(Token::Punct(';')) => break,
                            Some(Token::Word(key)) => {
                                if it.next() != Some(Token::Punct('=')) {
                                    return Err(err("'=' after an option name"));
                                }
                                let value = match it.next() {
                                    Some(Token::Word(v) | Token::Quoted(v)) => v,
                                    _ => return Err(err("an option value")),
                                };
                                options.push((key, value));
                            }
                            _ => return Err(err("an option or ';'")),
                        }
                    }
                    entries.push(JaasEntry {
                        module,
                        flag,
                        options,
                    });
                }
                _ => return Err(err("a login module or '}'")),
            }
        }
        if it.peek() == Some(&Token::Punct(';')) {
            it.next();
        }
        sections.insert(name, entries);
    }
    Ok(sections)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_zookeeper_style_files() {
        let text = r#"
            // the server's users
            Server {
                org.apache.zookeeper.server.auth.DigestLoginModule required
                user_super="adminsecret"
                user_bob = "bob \"secret\"";
            };
            /* a client section */
            Client { org.apache.zookeeper.server.auth.DigestLoginModule required
                username="bob" password='x'; };
        "#;
        let sections = parse_jaas(text).unwrap();
        let server = &sections["Server"];
        assert_eq!(server.len(), 1);
        let users = server[0].digest_users();
        assert_eq!(users["super"], "adminsecret");
        assert_eq!(users["bob"], "bob \"secret\"");
        assert_eq!(
            sections["Client"][0].options[1],
            ("password".into(), "x".into())
        );
        assert!(sections["Client"][0].digest_users().is_empty());
    }

    #[test]
    fn rejects_broken_files() {
        for bad in [
            "Server",
            "Server { m required",
            "Server { m required a=; };",
            "Server { m required a=\"x",
            "/* open",
            "{ };",
        ] {
            assert!(parse_jaas(bad).is_err(), "{bad}");
        }
    }
}
