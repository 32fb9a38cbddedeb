//! No-panic property test of the core on untrusted frames: the script of
//! [`crate::__fuzz::server_script`] (valid, mutated and arbitrary request frames, handshakes,
//! ticks, closes and reconnects), with its output and invariant checks.

use proptest::prelude::*;

use crate::__fuzz::{run_script, server_script};

/// A script biased towards meaningful actions: each step is an action byte with operands.
fn script() -> impl Strategy<Value = Vec<u8>> {
    let step = (0u8..10, prop::collection::vec(any::<u8>(), 0..24)).prop_map(|(a, mut rest)| {
        rest.insert(0, a);
        rest
    });
    (any::<u8>(), prop::collection::vec(step, 0..40)).prop_map(|(config, steps)| {
        let mut out = vec![config];
        out.extend(steps.into_iter().flatten());
        out
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    #[test]
    fn scripted_frames_never_panic_or_break_invariants(data in script()) {
        server_script(&data);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..512)) {
        server_script(&data);
    }
}

#[test]
fn empty_and_tiny_scripts() {
    server_script(&[]);
    server_script(&[0xff]);
    server_script(&[0, 2, 0, 9, 0, 1, 0, 0, 0]);
}

#[test]
fn scripts_reach_the_tree() {
    // create /a (persistent), create /a/b (ephemeral) on slot 1, then a mutated setData.
    let core = run_script(&[
        0, 2, 0, 9, 0, 1, 0, 0, 0, 2, 1, 9, 0, 2, 0, 0, 1, 3, 2, 9, 7, 1, 1, 0,
    ]);
    assert!(core.tree().get("/a").is_some());
    assert_eq!(
        core.tree()
            .ephemerals_of(core.connections()[&2].session.unwrap()),
        ["/a/b"]
    );
}
