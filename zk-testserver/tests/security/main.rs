//! Security and drop-in compatibility of zk-testserver over real sockets: JKS and PKCS#12
//! key stores, the JVM-style command line, SASL DIGEST-MD5 (zk-client, kazoo), x509
//! identities and session passwords, against our server and (where it applies) real
//! ZooKeeper 3.8 with the same files.

mod dropin;
mod kazoo;
mod keystores;
mod passwords;
mod sasl;
mod support;
mod x509;
