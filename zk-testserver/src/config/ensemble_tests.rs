//! `server.N`, `myid` and the limits, accepted and refused as ZooKeeper 3.8 does.

use std::path::PathBuf;

use super::*;

fn cfg(text: &str, myid: Option<u64>) -> ZooCfg {
    let mut cfg = ZooCfg::parse(text).expect("parses");
    cfg.myid = myid;
    cfg
}

const THREE: &str = "tickTime=100\ninitLimit=10\nsyncLimit=5\ndataDir=/tmp/x\nclientPort=2181\n\
                     server.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:2889:3889\n\
                     server.3=127.0.0.1:2890:3890\n";

#[test]
fn a_three_member_config_becomes_a_member_plan() {
    let plan = cfg(THREE, Some(2)).member_plan().unwrap().unwrap();
    assert_eq!(plan.id, 2);
    assert_eq!(plan.voters, BTreeSet::from([1, 2, 3]));
    assert!(plan.observers.is_empty());
    assert_eq!(plan.peers[&3], "127.0.0.1:2890".parse().unwrap());
    assert_eq!(plan.quorum_bind, "127.0.0.1:2889".parse().unwrap());
    assert_eq!(plan.election_bind, "127.0.0.1:3889".parse().unwrap());
    assert_eq!(plan.client, "0.0.0.0:2181".parse().unwrap());
    assert_eq!((plan.init_limit_ms, plan.sync_limit_ms), (1000, 500));
    let r = plan.replica_config();
    assert_eq!(
        (r.id, r.tick_ms, r.init_limit_ms, r.sync_limit_ms),
        (2, 100, 1000, 500)
    );
    assert_eq!(r.finalize_wait_ms, 100);
}

#[test]
fn accepts_every_server_line_form_zookeeper_does() {
    let text = "initLimit=5\nsyncLimit=2\n\
        server.1=localhost:2888:3888:participant;2181\n\
        server.2=[::1]:2889:3889;127.0.0.1:2182\n\
        server.3=127.0.0.1:2890:3890:OBSERVER;[::1]:2183\n\
        server.4=127.0.0.1:2891:3891|127.0.0.2:2891:3891:participant\n\
        multiAddress.enabled=true\n";
    let c = cfg(text, Some(3));
    assert_eq!(c.servers[0].host, "localhost");
    assert_eq!(c.servers[1].host, "::1");
    assert!(c.servers[2].is_observer());
    assert_eq!(c.servers[3].more_addresses.len(), 1);
    let plan = c.member_plan().unwrap().unwrap();
    assert_eq!(plan.observers, BTreeSet::from([3]));
    assert_eq!(plan.voters, BTreeSet::from([1, 2, 4]));
    assert_eq!(plan.client, "[::1]:2183".parse().unwrap());
    assert_eq!(plan.peers[&2], "[::1]:2889".parse().unwrap());
    assert_eq!(plan.peers[&1].port(), 2888);
    // The member's own line gives its client address; a matching clientPort is fine.
    let c = cfg(
        "initLimit=5\nsyncLimit=2\nclientPort=2182\nserver.1=127.0.0.1:1:2;2181\n\
         server.2=127.0.0.1:3:4;2182\n",
        Some(2),
    );
    assert_eq!(c.member_plan().unwrap().unwrap().client.port(), 2182);
}

#[test]
fn one_participant_is_standalone_unless_standalone_is_disabled() {
    let one = "clientPort=2181\ninitLimit=5\nsyncLimit=2\nserver.1=127.0.0.1:2888:3888\n";
    assert!(!cfg(one, Some(1)).is_distributed());
    assert_eq!(cfg(one, Some(1)).member_plan().unwrap(), None);
    let alone = format!("{one}standaloneEnabled=false\n");
    let plan = cfg(&alone, Some(1)).member_plan().unwrap().unwrap();
    assert_eq!(plan.voters, BTreeSet::from([1]));
    // No server lines at all: standalone.
    assert_eq!(cfg("clientPort=1\n", None).member_plan().unwrap(), None);
}

#[test]
fn refuses_what_zookeeper_refuses() {
    let bad_lines = [
        "server.1=127.0.0.1:2888",
        "server.1=127.0.0.1:2888:2888",
        "server.1=127.0.0.1:2888:3888:voter",
        "server.1=127.0.0.1:2888:3888:observer:x",
        "server.x=127.0.0.1:2888:3888",
        "server.1=127.0.0.1:2888:3888;a;b",
        "server.1=127.0.0.1:2888:3888;1:2:3",
        "server.1=127.0.0.1:2888:3888;port",
        "server.1=127.0.0.1:1:2:observer|127.0.0.2:1:2:participant",
        "peerType=leader",
        "electionAlg=1",
    ];
    for line in bad_lines {
        assert!(
            matches!(ZooCfg::parse(line), Err(ConfigError::Invalid { .. })),
            "{line}"
        );
    }
    let missing = |text: &str, myid: Option<u64>| cfg(text, myid).member_plan().unwrap_err();
    assert!(matches!(missing(THREE, None), ConfigError::Missing(_)));
    assert!(matches!(
        missing(&THREE.replace("initLimit=10\n", ""), Some(1)),
        ConfigError::Missing("initLimit")
    ));
    assert!(matches!(
        missing(&THREE.replace("syncLimit=5\n", ""), Some(1)),
        ConfigError::Missing("syncLimit")
    ));
    assert!(matches!(
        missing(THREE, Some(4)),
        ConfigError::Invalid { key, .. } if key == "myid"
    ));
    assert!(matches!(
        missing(&THREE.replace("clientPort=2181\n", ""), Some(1)),
        ConfigError::Missing("clientPort")
    ));
    // Conflicting client ports, observers without a quorum, duplicated ids, several
    // addresses without multiAddress.enabled.
    for text in [
        "initLimit=1\nsyncLimit=1\nclientPort=9\nserver.1=h:1:2;8\nserver.2=h:3:4;7\n",
        "server.1=127.0.0.1:1:2\nserver.2=127.0.0.1:3:4:observer\n",
        "server.1=127.0.0.1:1:2:observer\n",
        "initLimit=1\nsyncLimit=1\nserver.1=127.0.0.1:1:2\nserver.1=127.0.0.1:3:4\n",
        "initLimit=1\nsyncLimit=1\nserver.1=a:1:2|b:1:2\nserver.2=c:3:4\n",
    ] {
        assert!(
            matches!(
                cfg(text, Some(1)).member_plan(),
                Err(ConfigError::Invalid { .. })
            ),
            "{text}"
        );
    }
}

#[test]
fn reads_myid_and_a_dynamic_config_file() {
    let dir = std::env::temp_dir().join(format!("zk-cfg-dynamic-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let dynamic = dir.join("zoo.cfg.dynamic.100000000");
    std::fs::write(
        &dynamic,
        "server.1=127.0.0.1:2888:3888:participant;127.0.0.1:2181\n\
         server.2=127.0.0.1:2889:3889:participant;127.0.0.1:2182\nversion=100000000\n",
    )
    .unwrap();
    std::fs::write(dir.join("myid"), "2\n").unwrap();
    let zoo = dir.join("zoo.cfg");
    std::fs::write(
        &zoo,
        format!(
            "tickTime=50\ninitLimit=4\nsyncLimit=2\ndataDir={}\ndynamicConfigFile={}\n",
            dir.display(),
            dynamic.display()
        ),
    )
    .unwrap();
    let c = ZooCfg::load(&zoo).unwrap();
    assert_eq!(c.myid, Some(2));
    let plan = c.member_plan().unwrap().unwrap();
    assert_eq!(plan.client, "127.0.0.1:2182".parse().unwrap());
    assert_eq!(plan.tick_ms, 50);
    // Server lines in both files are refused.
    std::fs::write(
        &zoo,
        format!(
            "dataDir={}\ndynamicConfigFile={}\nserver.3=127.0.0.1:1:2\n",
            dir.display(),
            dynamic.display()
        ),
    )
    .unwrap();
    assert!(matches!(
        ZooCfg::load(&zoo),
        Err(ConfigError::Invalid { .. })
    ));
    let _ = std::fs::remove_dir_all(PathBuf::from(&dir));
}

#[test]
fn a_member_keeps_the_secure_port_and_connection_settings() {
    let text = format!(
        "{THREE}secureClientPort=2281\nssl.keyStore.location=/k.pem\n\
         jute.maxbuffer=2048\nnio.sessionlessCnxnTimeout=700\nglobalOutstandingLimit=7\n"
    );
    let c = cfg(&text, Some(2));
    let plan = c.member_plan().unwrap().unwrap();
    assert_eq!(plan.secure_client, Some("0.0.0.0:2281".parse().unwrap()));
    let member = c.member_config(&plan).unwrap();
    assert_eq!(member.core.max_frame, 2048);
    assert_eq!(member.core.handshake_timeout_ms, 700);
    assert_eq!(member.core.global_outstanding_limit, 7);
    assert!(member
        .core
        .conf_lines
        .contains(&("secureClientPort".to_string(), "2281".to_string())));
    let q = member.core.quorum.expect("quorum conf");
    assert_eq!((q.init_limit, q.sync_limit, q.quorum_port), (10, 5, 2889));
    assert_eq!(q.election_port, 3889);
    assert!(!q.observer);
    assert_eq!(q.servers[2], "server.3=127.0.0.1:2890:3890:participant");
    let c = cfg(
        &format!("{text}secureClientPortAddress=127.0.0.3\n"),
        Some(2),
    );
    let plan = c.member_plan().unwrap().unwrap();
    assert_eq!(plan.secure_client, Some("127.0.0.3:2281".parse().unwrap()));
    let c = cfg(
        &format!("{THREE}secureClientPortAddress=127.0.0.3\n"),
        Some(2),
    );
    assert!(
        c.member_plan().is_err(),
        "an address without secureClientPort"
    );
    // Without a key store the secure port is off, as on a standalone server.
    let c = cfg(&format!("{THREE}secureClientPort=2281\n"), Some(2));
    assert_eq!(c.member_plan().unwrap().unwrap().secure_client, None);
    // A client address on the line is part of the membership line.
    let c = cfg(
        "initLimit=5\nsyncLimit=2\nserver.1=localhost:1:2;2181\n\
         server.2=127.0.0.1:3:4:observer;127.0.0.1:2182\nserver.3=[::1]:5:6;[::1]:2183\n",
        Some(2),
    );
    let plan = c.member_plan().unwrap().unwrap();
    let q = c.member_config(&plan).unwrap().core.quorum.unwrap();
    assert!(q.observer);
    assert_eq!(
        q.servers,
        [
            "server.1=localhost:1:2:participant;0.0.0.0:2181",
            "server.2=127.0.0.1:3:4:observer;127.0.0.1:2182",
            "server.3=[::1]:5:6:participant;[::1]:2183",
        ]
    );
}
