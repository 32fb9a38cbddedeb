//! SASL for the server: the JAAS `Server` section ZooKeeper's `DigestLoginModule` reads, and
//! the DIGEST-MD5 mechanism (RFC 2831) that answers the SASL request op (102).
//!
//! ZooKeeper's server creates its DIGEST-MD5 server with protocol `zookeeper` and server name
//! `zk-sasl-md5`, so the realm is `zk-sasl-md5` and clients use the digest URI
//! `zookeeper/zk-sasl-md5`. Only `qop=auth` (authentication without a security layer) is
//! offered, as ZooKeeper's server does by default. A successful exchange gives the
//! connection the identity `sasl:<username>`; any failure is `AuthFailed`.
//!
//! ```text
//! client                         server
//! ""                   ------->
//!                      <-------  realm, nonce, qop="auth", charset=utf-8, algorithm=md5-sess
//! username, response.. ------->  (checked against user_<name>="<password>")
//!                      <-------  rspauth=...           (authenticated: sasl:<username>)
//! ```

mod digest_md5;
mod jaas;

pub use digest_md5::{DigestMd5Server, SaslError, SaslStep, DIGEST_URI, REALM};
pub use jaas::{parse_jaas, JaasEntry, JaasError, DIGEST_LOGIN_MODULE};
