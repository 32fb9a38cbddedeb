//! Tests of the real-ZooKeeper harness against the installed Apache ZooKeeper.
//!
//! These fail (rather than skip) when `CI` is set and ZooKeeper is not installed.

use std::time::{Duration, Instant};

use zk_testserver::real::{require_real_zookeeper, RealError, RealOptions, RealZooKeeper};

#[test]
fn standalone_answers_four_letter_words() {
    if !require_real_zookeeper() {
        return;
    }
    let started = Instant::now();
    let zk = RealZooKeeper::standalone(RealOptions {
        tick_time_ms: 200,
        extended_types: true,
        ..RealOptions::default()
    })
    .expect("standalone server starts");
    eprintln!("standalone ready after {:?}", started.elapsed());

    assert!(zk.is_standalone());
    assert_eq!(zk.member_count(), 1);
    assert_eq!(
        zk.connect_string(),
        format!("127.0.0.1:{}", zk.member_addr(0).port())
    );
    assert_eq!(zk.four_letter(0, "ruok").unwrap().trim(), "imok");
    let srvr = zk.four_letter(0, "srvr").unwrap();
    assert!(srvr.contains("Zookeeper version: 3."), "{srvr}");
    assert_eq!(zk.mode(0).as_deref(), Some("standalone"));
    let conf = zk.four_letter(0, "conf").unwrap();
    assert!(conf.contains("tickTime=200"), "{conf}");
    // The session timeout bounds follow the small tickTime.
    assert!(conf.contains("minSessionTimeout=400"), "{conf}");
    let mntr = zk.four_letter(0, "mntr").unwrap();
    assert!(mntr.contains("zk_server_state\tstandalone"), "{mntr}");
    assert!(matches!(
        zk.four_letter(0, "toolong"),
        Err(RealError::InvalidArgument(_))
    ));

    // Kill and restart on the same port and data directory.
    let dir = zk.member_dir(0).to_path_buf();
    zk.kill(0).unwrap();
    assert!(!zk.is_running(0));
    assert_eq!(zk.mode(0), None);
    assert!(matches!(
        zk.kill(0),
        Err(RealError::NotRunning { index: 0 })
    ));
    zk.restart(0).unwrap();
    assert_eq!(zk.mode(0).as_deref(), Some("standalone"));
    assert_eq!(zk.member_dir(0), dir);

    // A clean stop works too.
    zk.stop(0).unwrap();
    assert!(!zk.is_running(0));
    drop(zk);
    assert!(!dir.exists(), "the temp dir is removed on drop");
}

#[test]
fn ensemble_elects_a_new_leader_after_the_leader_dies() {
    if !require_real_zookeeper() {
        return;
    }
    let started = Instant::now();
    let zk = RealZooKeeper::ensemble(3, RealOptions::default()).expect("ensemble starts");
    eprintln!("3-member ensemble ready after {:?}", started.elapsed());

    assert!(!zk.is_standalone());
    assert_eq!(zk.connect_string().split(',').count(), 3);
    let modes: Vec<String> = (0..3).map(|i| zk.mode(i).unwrap()).collect();
    assert_eq!(
        modes.iter().filter(|m| *m == "leader").count(),
        1,
        "{modes:?}"
    );
    assert_eq!(
        modes.iter().filter(|m| *m == "follower").count(),
        2,
        "{modes:?}"
    );
    let leader = zk.leader().expect("a leader");
    assert_eq!(modes[leader], "leader");
    let mntr = zk.four_letter(leader, "mntr").unwrap();
    assert!(mntr.contains("zk_server_state\tleader"), "{mntr}");
    assert!(mntr.contains("zk_synced_followers\t2"), "{mntr}");

    let killed_at = Instant::now();
    zk.kill(leader).unwrap();
    let new_leader = zk
        .wait_for_leader(Duration::from_secs(60))
        .expect("the other two elect a leader");
    eprintln!(
        "new leader elected {:?} after the kill",
        killed_at.elapsed()
    );
    assert_ne!(new_leader, leader);
    assert_eq!(zk.mode(new_leader).as_deref(), Some("leader"));
    let other = (0..3).find(|&i| i != leader && i != new_leader).unwrap();
    assert_eq!(zk.mode(other).as_deref(), Some("follower"));

    let restarted_at = Instant::now();
    zk.restart(leader).expect("the old leader rejoins");
    eprintln!("old leader rejoined after {:?}", restarted_at.elapsed());
    assert_eq!(zk.mode(leader).as_deref(), Some("follower"));
    assert_eq!(
        zk.wait_for_leader(Duration::from_secs(30)).unwrap(),
        new_leader
    );
}

#[test]
fn bad_arguments_are_rejected() {
    assert!(matches!(
        RealZooKeeper::ensemble(0, RealOptions::default()),
        Err(RealError::InvalidArgument(_)) | Err(RealError::Unavailable(_))
    ));
}

#[test]
fn a_member_cut_off_from_its_quorum_serves_read_only() {
    if !require_real_zookeeper() {
        return;
    }
    let zk = RealZooKeeper::ensemble(
        3,
        RealOptions {
            tick_time_ms: 200,
            read_only_mode: true,
            ..RealOptions::default()
        },
    )
    .expect("ensemble starts");
    let leader = zk.leader().unwrap();
    let survivor = (0..3).find(|&i| i != leader).unwrap();
    let started = Instant::now();
    for i in (0..3).filter(|&i| i != survivor) {
        zk.kill(i).unwrap();
    }
    zk.wait_for_mode(survivor, "read-only", Duration::from_secs(60))
        .expect("the survivor serves read-only");
    eprintln!("read-only after {:?}", started.elapsed());
    assert_eq!(zk.mode(survivor).as_deref(), Some("read-only"));
    assert_eq!(zk.four_letter(survivor, "isro").unwrap().trim(), "ro");
}
