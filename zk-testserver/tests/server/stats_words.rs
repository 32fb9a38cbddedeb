//! The statistics four-letter words report real figures: `cons` lists connections with their
//! counters and latencies, `stat`/`srvr`/`mntr` report request latencies, `dirs` the data
//! directory's size; and their lines have the shape real ZooKeeper 3.8 gives them.

use std::net::SocketAddr;
use std::time::Duration;

use zk_testserver::real::{require_real_zookeeper, RealOptions, RealZooKeeper};
use zk_testserver::TestServer;

use crate::client::Client;
use crate::four_letter::ask;

/// `min/avg/max` of the `Latency min/avg/max:` line.
fn latency(text: &str) -> (i64, f64, i64) {
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("Latency min/avg/max: "))
        .unwrap_or_else(|| panic!("no latency line in {text}"));
    let parts: Vec<&str> = line.split('/').collect();
    (
        parts[0].parse().unwrap(),
        parts[1].parse().unwrap(),
        parts[2].parse().unwrap(),
    )
}

fn mntr_value(text: &str, key: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}\t")))
        .unwrap_or_else(|| panic!("no {key} in {text}"))
        .to_string()
}

/// `key=value` fields of the `cons` line of the connection from `port`.
fn cons_fields(cons: &str, port: u16) -> Vec<(String, String)> {
    let line = cons
        .lines()
        .find(|l| l.contains(&format!(":{port}[")))
        .unwrap_or_else(|| panic!("no line for port {port} in {cons}"));
    let inner = line
        .split_once('(')
        .and_then(|(_, rest)| rest.strip_suffix(')'))
        .unwrap();
    inner
        .split(',')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (k.to_string(), v.to_string())
        })
        .collect()
}

fn field<'a>(fields: &'a [(String, String)], key: &str) -> &'a str {
    &fields.iter().find(|(k, _)| k == key).unwrap().1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cons_stat_mntr_and_dirs_report_real_figures() {
    let dir = std::env::temp_dir().join(format!("zk-stats-words-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let server = TestServer::builder()
        .data_dir(&dir)
        .fsync(false)
        .start()
        .await
        .unwrap();
    let addr = server.addr();
    let mut c = Client::connect(addr).await;
    c.create("/s", b"x", 0).await.unwrap();

    // Hold the core thread for a while, then send a request: it waits in the queue, and its
    // latency (read to reply) shows it.
    let (running_tx, running_rx) = tokio::sync::oneshot::channel();
    let hold = server.inspect(move |_| {
        let _ = running_tx.send(());
        std::thread::sleep(Duration::from_millis(300));
    });
    let slow = async {
        running_rx.await.unwrap();
        c.get_data("/s", false).await.unwrap();
    };
    tokio::join!(hold, slow);

    let port = local_port_of(addr, &ask(addr, "cons").await);
    let cons = ask(addr, "cons").await;
    let fields = cons_fields(&cons, port);
    let keys: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "queued", "recved", "sent", "sid", "lop", "est", "to", "lcxid", "lzxid", "lresp",
            "llat", "minlat", "avglat", "maxlat"
        ]
    );
    // connect + create + getData, each answered.
    assert_eq!(field(&fields, "recved"), "3", "{cons}");
    assert_eq!(field(&fields, "sent"), "3", "{cons}");
    assert_eq!(field(&fields, "lop"), "GETD");
    assert_eq!(field(&fields, "lcxid"), "0x2");
    let llat: i64 = field(&fields, "llat").parse().unwrap();
    let maxlat: i64 = field(&fields, "maxlat").parse().unwrap();
    let minlat: i64 = field(&fields, "minlat").parse().unwrap();
    assert!(llat >= 250 && maxlat == llat, "{cons}");
    assert!(minlat < 250, "{cons}");
    let fresh = Client::connect(addr).await;
    let cons = ask(addr, "cons").await;
    let fresh_line = cons
        .lines()
        .find(|l| l.contains(&format!("sid={:#x},", fresh.session_id())))
        .unwrap();
    assert!(
        fresh_line.contains("lop=SESS,") && fresh_line.contains("lcxid=0x0,"),
        "{cons}"
    );
    assert!(
        cons.contains("[0](queued=0,recved=1,sent=0)"),
        "the asking connection is listed: {cons}"
    );

    let stat = ask(addr, "stat").await;
    let (min, avg, max) = latency(&stat);
    assert!(
        max >= 250 && min <= max && (min as f64) <= avg && avg <= max as f64,
        "{stat}"
    );
    let mntr = ask(addr, "mntr").await;
    assert_eq!(mntr_value(&mntr, "zk_max_latency"), max.to_string());
    assert_eq!(mntr_value(&mntr, "zk_min_latency"), min.to_string());
    assert_eq!(mntr_value(&mntr, "zk_outstanding_requests"), "0");
    assert_eq!(latency(&ask(addr, "srvr").await).2, max);
    assert_eq!(ask(addr, "srst").await, "Server stats reset.\n");
    assert_eq!(latency(&ask(addr, "srvr").await), (0, 0.0, 0));
    assert!(ask(addr, "srvr")
        .await
        .contains("Latency min/avg/max: 0/0.0/0\n"));

    // dirs: the bytes of the data directory (snapshots and logs share it).
    let on_disk: u64 = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum();
    assert!(on_disk > 0);
    assert_eq!(
        ask(addr, "dirs").await,
        format!("datadir_size: {on_disk}\nlogdir_size: {on_disk}\n")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The port of the one connection with a session in `cons`.
fn local_port_of(_server: SocketAddr, cons: &str) -> u16 {
    let line = cons.lines().find(|l| l.contains("sid=")).unwrap();
    let addr = line.trim().trim_start_matches('/');
    let addr = &addr[..addr.find('[').unwrap()];
    addr.rsplit(':').next().unwrap().parse().unwrap()
}

/// A line with its numbers and hex digits masked, to compare shapes.
fn shape(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '0' && chars.peek() == Some(&'x') {
            chars.next();
            while chars.peek().is_some_and(|c| c.is_ascii_hexdigit()) {
                chars.next();
            }
            out.push_str("0xH");
        } else if c.is_ascii_digit() {
            while chars.peek().is_some_and(|c| c.is_ascii_digit()) {
                chars.next();
            }
            out.push('9');
        } else {
            out.push(c);
        }
    }
    out
}

/// `cons`, `stat` and `srvr` lines, masked, after one session made three requests.
async fn shapes(addr: SocketAddr) -> Vec<String> {
    let mut c = Client::connect(addr).await;
    c.create("/shape", b"x", 0).await.unwrap();
    c.get_data("/shape", false).await.unwrap();
    c.exists("/shape", false).await.unwrap();
    // A session that made no request yet (lop=SESS).
    let _fresh = Client::connect(addr).await;
    let mut lines = Vec::new();
    for word in ["cons", "stat", "srvr"] {
        // Connections are listed in no particular order: sorted among themselves.
        let text = ask(addr, word).await;
        let mut conns: Vec<String> = text
            .lines()
            .filter(|l| l.starts_with(" /"))
            .map(shape)
            .collect();
        conns.sort();
        let mut conns = conns.into_iter();
        for line in text.lines() {
            if line.starts_with("Zookeeper version") {
                continue;
            }
            let line = if line.starts_with(" /") {
                conns.next().unwrap_or_default()
            } else {
                shape(line)
            };
            lines.push(format!("{word}: {line}"));
        }
    }
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statistics_lines_are_shaped_like_real_zookeeper() {
    if !require_real_zookeeper() {
        return;
    }
    let real = tokio::task::spawn_blocking(|| {
        RealZooKeeper::standalone(RealOptions {
            tick_time_ms: 200,
            ..RealOptions::default()
        })
    })
    .await
    .unwrap()
    .expect("real ZooKeeper starts");
    let ours = TestServer::builder()
        .tick_time_ms(200)
        .start()
        .await
        .unwrap();
    let expected = shapes(real.member_addr(0)).await;
    let actual = shapes(ours.addr()).await;
    if std::env::var_os("ZK_CONFORMANCE_TRACE").is_some() {
        eprintln!("{}", actual.join("\n"));
    }
    assert_eq!(
        expected,
        actual,
        "real:\n{}\nours:\n{}",
        expected.join("\n"),
        actual.join("\n")
    );
}
