//! Three `zk-testserver zoo.cfg` processes with `server.N` lines and `myid` files, as a test
//! harness that launches real ZooKeeper members would start them.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::{client_of, create_retrying, synced_read};

const BIN: &str = env!("CARGO_BIN_EXE_zk-testserver");

struct Members {
    dir: PathBuf,
    client_ports: Vec<u16>,
    /// Each member's `secureClientPort`, if it serves TLS.
    secure_ports: Vec<Option<u16>>,
    children: Vec<Option<Child>>,
    /// Each member's role from its last "serving" / "not serving" log line.
    roles: Vec<Arc<Mutex<Option<String>>>>,
}

impl Drop for Members {
    fn drop(&mut self) {
        for c in self.children.iter_mut().flatten() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `n` distinct free loopback ports.
fn free_ports(n: usize) -> Vec<u16> {
    // Hold every port until all are picked, so they are distinct.
    let listeners: Vec<_> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

impl Members {
    fn write(n: usize) -> Members {
        Members::write_with(n, "plain", |_| String::new())
    }

    /// `n` members that also serve TLS on `secureClientPort` with `pki`'s PEM key store (and
    /// its CA as trust store, client certificates not asked for).
    fn write_tls(n: usize, pki: &crate::tls::Pki) -> Members {
        let secure = free_ports(n);
        let mut m = Members::write_with(n, "tls", |i| {
            format!(
                "secureClientPort={}\nserverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory\n\
                 ssl.keyStore.location={}\nssl.keyStore.type=PEM\n\
                 ssl.trustStore.location={}\nssl.trustStore.type=PEM\nssl.clientAuth=none\n",
                secure[i],
                pki.server_pem.display(),
                pki.ca_file.display()
            )
        });
        m.secure_ports = secure.into_iter().map(Some).collect();
        m
    }

    /// Members from the `zoo.cfg` texts of another ensemble (`dataDir` lines replaced by
    /// directories of their own), serving clients on `client_ports`.
    fn from_configs(texts: &[String], client_ports: Vec<u16>) -> Members {
        let dir = std::env::temp_dir().join(format!("zk-ens-bin-copy-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for (i, text) in texts.iter().enumerate() {
            let member = dir.join(format!("member-{}", i + 1));
            let data = member.join("data");
            std::fs::create_dir_all(&data).unwrap();
            std::fs::write(data.join("myid"), format!("{}\n", i + 1)).unwrap();
            let cfg: String = text
                .lines()
                .map(|l| {
                    if l.starts_with("dataDir=") {
                        format!("dataDir={}\n", data.display())
                    } else {
                        format!("{l}\n")
                    }
                })
                .collect();
            std::fs::write(member.join("zoo.cfg"), cfg).unwrap();
        }
        Members {
            dir,
            secure_ports: client_ports.iter().map(|_| None).collect(),
            children: client_ports.iter().map(|_| None).collect(),
            roles: client_ports.iter().map(|_| Arc::default()).collect(),
            client_ports,
        }
    }

    fn write_with(n: usize, tag: &str, extra: impl Fn(usize) -> String) -> Members {
        let dir = std::env::temp_dir().join(format!("zk-ens-bin-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let ports = free_ports(3 * n);
        // The forms real harnesses write: role and client port on the line, or neither. A
        // 20 ms tick would cap sessions at 400 ms: a failover on a loaded machine could
        // expire them, so maxSessionTimeout lets the clients' 10 s stand.
        let servers: String = (0..n)
            .map(|i| {
                let (c, q, e) = (ports[3 * i], ports[3 * i + 1], ports[3 * i + 2]);
                if i == 0 {
                    format!("server.{}=127.0.0.1:{q}:{e}\n", i + 1)
                } else {
                    format!(
                        "server.{}=localhost:{q}:{e}:participant;127.0.0.1:{c}\n",
                        i + 1
                    )
                }
            })
            .collect();
        for i in 0..n {
            let member = dir.join(format!("member-{}", i + 1));
            let data = member.join("data");
            std::fs::create_dir_all(&data).unwrap();
            std::fs::write(data.join("myid"), format!("{}\n", i + 1)).unwrap();
            let client_port = if i == 0 {
                format!("clientPort={}\nclientPortAddress=127.0.0.1\n", ports[0])
            } else {
                String::new()
            };
            std::fs::write(
                member.join("zoo.cfg"),
                format!(
                    "tickTime=20\ninitLimit=10\nsyncLimit=5\nmaxSessionTimeout=10000\ndataDir={}\n{client_port}\
                     4lw.commands.whitelist=*\nadmin.enableServer=false\n{servers}{}",
                    data.display(),
                    extra(i)
                ),
            )
            .unwrap();
        }
        Members {
            dir,
            client_ports: (0..n).map(|i| ports[3 * i]).collect(),
            secure_ports: (0..n).map(|_| None).collect(),
            children: (0..n).map(|_| None).collect(),
            roles: (0..n).map(|_| Arc::default()).collect(),
        }
    }

    /// Starts member `i`; its log lines tell its role.
    fn start(&mut self, i: usize) {
        let cfg = self.dir.join(format!("member-{}", i + 1)).join("zoo.cfg");
        let mut child = Command::new(BIN)
            .arg("-Xmx512m")
            .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
            .arg(&cfg)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        self.children[i] = Some(child);
        let role = self.roles[i].clone();
        *role.lock().unwrap() = None;
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let line = strip_ansi(&line);
                if line.contains("zk-testserver serving") {
                    let r = line.split("role=").nth(1).and_then(|r| r.split(' ').next());
                    *role.lock().unwrap() = r.map(str::to_string);
                } else if line.contains("not serving") {
                    *role.lock().unwrap() = None;
                }
            }
        });
    }

    fn addr(&self, i: usize) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.client_ports[i]))
    }

    fn secure_connect_string(&self) -> String {
        self.secure_ports
            .iter()
            .map(|p| format!("127.0.0.1:{}", p.expect("a secure port")))
            .collect::<Vec<_>>()
            .join(",")
    }

    fn connect_string(&self) -> String {
        (0..self.client_ports.len())
            .map(|i| self.addr(i).to_string())
            .collect::<Vec<_>>()
            .join(",")
    }

    fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.children[i].take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    /// The member that leads: `srvr` says `Mode: leader`, or its log says it serves as the
    /// leader. Waits up to 10 s for one.
    fn wait_leader(&self) -> usize {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            for i in 0..self.children.len() {
                if self.children[i].is_none() {
                    continue;
                }
                let logged = self.roles[i].lock().unwrap().as_deref() == Some("Leading");
                if logged || mode(self.addr(i)).as_deref() == Some("leader") {
                    return i;
                }
            }
            assert!(Instant::now() < deadline, "no member says it leads");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// The text of a log line without its terminal color codes.
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The answer to a four-letter word.
fn four_letter(addr: SocketAddr, word: &str) -> Option<String> {
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(word.as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

fn mode(addr: SocketAddr) -> Option<String> {
    four_letter(addr, "srvr")?
        .lines()
        .find_map(|l| l.strip_prefix("Mode: "))
        .map(|m| m.trim().to_string())
}

/// Three binaries from `zoo.cfg` files elect a leader and serve; killing the leader's process
/// keeps the ensemble writable with every acknowledged write; the killed member restarts from
/// its data directory and catches up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_binaries_from_zoo_cfg_survive_a_leader_kill() {
    let mut m = tokio::task::block_in_place(|| {
        let mut m = Members::write(3);
        for i in 0..3 {
            m.start(i);
        }
        m
    });
    let leader = tokio::task::block_in_place(|| m.wait_leader());
    let c = client_of(&m.connect_string()).await;
    for i in 0..20 {
        create_retrying(&c, &format!("/b{i}"), b"b").await;
    }
    let session = c.session_id();
    tokio::task::block_in_place(|| m.kill(leader));
    let killed = Instant::now();
    for i in 20..40 {
        create_retrying(&c, &format!("/b{i}"), b"b").await;
    }
    eprintln!(
        "leader process killed; 20 writes later: {:?}",
        killed.elapsed()
    );
    assert_eq!(c.session_id(), session);
    let new = tokio::task::block_in_place(|| m.wait_leader());
    assert_ne!(new, leader);
    tokio::task::block_in_place(|| m.start(leader));
    let back = client_of(&m.addr(leader).to_string()).await;
    assert_eq!(synced_read(&back, "/b39").await.as_deref(), Some(&b"b"[..]));
    for i in 0..40 {
        let (data, _) = back.get_data(&format!("/b{i}")).await.expect("get");
        assert_eq!(&data[..], b"b");
    }
}

/// Three binaries whose `zoo.cfg` sets `secureClientPort` with PEM key and trust stores (as
/// kazoo's harness and real ZooKeeper's TLS setups do) serve TLS clients on every member
/// beside the plain port; a TLS session survives the leader's process being killed, and the
/// restarted member serves TLS again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_binaries_serve_tls_on_secure_client_ports() {
    let pki = crate::tls::Pki::new("binary");
    let mut m = tokio::task::block_in_place(|| {
        let mut m = Members::write_tls(3, &pki);
        for i in 0..3 {
            m.start(i);
        }
        m
    });
    let leader = tokio::task::block_in_place(|| m.wait_leader());
    let c = crate::tls::tls_client(&m.secure_connect_string(), pki.client_tls(false)).await;
    for i in 0..10 {
        create_retrying(&c, &format!("/s{i}"), b"s").await;
    }
    let session = c.session_id();
    tokio::task::block_in_place(|| m.kill(leader));
    for i in 10..20 {
        create_retrying(&c, &format!("/s{i}"), b"s").await;
    }
    assert_eq!(c.session_id(), session, "the TLS session survived");
    tokio::task::block_in_place(|| m.start(leader));
    let secure = format!("127.0.0.1:{}", m.secure_ports[leader].unwrap());
    let back = crate::tls::tls_client(&secure, pki.client_tls(false)).await;
    assert_eq!(synced_read(&back, "/s19").await.as_deref(), Some(&b"s"[..]));
    // The plain ports serve the same data.
    let plain = client_of(&m.addr((leader + 1) % 3).to_string()).await;
    assert_eq!(synced_read(&plain, "/s0").await.as_deref(), Some(&b"s"[..]));
    let conf = four_letter(m.addr(leader), "conf").expect("conf");
    assert!(
        conf.contains(&format!(
            "secureClientPort={}\n",
            m.secure_ports[leader].unwrap()
        )),
        "{conf}"
    );
}

/// `conf` on a member: real ZooKeeper 3.8 members are started from their `zoo.cfg`s, then our
/// binaries from the same files (same ports, data directories of their own); member 1's
/// answers are the same text but for the data directories and their sizes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_conf_matches_real_zookeeper() {
    use zk_testserver::real::{require_real_zookeeper, RealOptions, RealZooKeeper};
    if !require_real_zookeeper() {
        return;
    }
    let (real_conf, texts, ports) = tokio::task::block_in_place(|| {
        let real = RealZooKeeper::ensemble(3, RealOptions::default()).expect("real ZooKeeper");
        let conf = real.four_letter(0, "conf").expect("conf");
        let texts: Vec<String> = (0..3)
            .map(|i| std::fs::read_to_string(real.member_dir(i).join("zoo.cfg")).unwrap())
            .collect();
        let ports: Vec<u16> = (0..3).map(|i| real.member_addr(i).port()).collect();
        (conf, texts, ports)
    });
    let mut m = Members::from_configs(&texts, ports);
    let ours = tokio::task::block_in_place(|| {
        for i in 0..3 {
            m.start(i);
        }
        m.wait_leader();
        four_letter(m.addr(0), "conf").expect("conf")
    });
    assert_eq!(
        crate::conf_text::without_data_dirs(&ours),
        crate::conf_text::without_data_dirs(&real_conf),
        "ours:\n{ours}\nreal:\n{real_conf}"
    );
    assert!(real_conf.contains("\nmembership: \nserver.1=127.0.0.1:"));
    assert!(ours.contains("serverId=1\n") && ours.contains("peerType=0\n"));
    assert!(ours.contains("dataDir="));
    assert!(ours.ends_with("version=0"));
}

/// `snapCount` in `zoo.cfg`: each member process writes `snapshot.<zxid>` files into
/// `dataDir/version-2` and purges the logs and snapshots they make obsolete; a member
/// restarted after many snapshots serves every write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binaries_with_snap_count_snapshot_and_purge_their_data_dirs() {
    let mut m = tokio::task::block_in_place(|| {
        let mut m = Members::write_with(3, "snap", |_| "snapCount=20\n".to_string());
        for i in 0..3 {
            m.start(i);
        }
        m
    });
    tokio::task::block_in_place(|| m.wait_leader());
    let c = client_of(&m.connect_string()).await;
    for i in 0..300 {
        create_retrying(&c, &format!("/p{i}"), b"p").await;
    }
    assert_eq!(synced_read(&c, "/p299").await.as_deref(), Some(&b"p"[..]));
    for i in 0..3 {
        let v2 = m
            .dir
            .join(format!("member-{}", i + 1))
            .join("data")
            .join("version-2");
        let names: Vec<String> = std::fs::read_dir(&v2)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        let count = |prefix: &str| {
            names
                .iter()
                .filter(|n| n.starts_with(prefix) && !n.ends_with(".tmp"))
                .count()
        };
        // About 20 snapshots each were taken: two are kept, and the logs after the older.
        assert!(
            (1..=2).contains(&count("snapshot.")),
            "member {}: {names:?}",
            i + 1
        );
        assert!(count("log.") <= 3, "member {}: {names:?}", i + 1);
    }
    tokio::task::block_in_place(|| {
        m.kill(2);
        m.start(2);
    });
    let back = client_of(&m.addr(2).to_string()).await;
    assert_eq!(
        synced_read(&back, "/p299").await.as_deref(),
        Some(&b"p"[..])
    );
    let children = back.get_children("/").await.expect("children");
    assert_eq!(children.iter().filter(|c| c.starts_with('p')).count(), 300);
}
