//! No-panic property test of the session core on untrusted server bytes: the script of
//! [`super::fuzz_script::run`] (arbitrary bytes, matching and non-matching replies, events,
//! mutated frames, bad length prefixes, time passing, disconnects), with its checks.

use proptest::prelude::*;

use super::fuzz_script::run;

/// A script biased towards meaningful actions: each step is an action byte with operands.
fn script() -> impl Strategy<Value = Vec<u8>> {
    let step = (0u8..12, prop::collection::vec(any::<u8>(), 0..12)).prop_map(|(a, mut rest)| {
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
    fn scripted_server_bytes_never_panic(data in script()) {
        run(&data);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..512)) {
        run(&data);
    }
}

#[test]
fn fixed_scripts() {
    run(&[]);
    // Answer the four requests in flight, an event for the data watch, then a bad prefix.
    run(&[
        0, 1, 4, 1, 0, 1, 4, 1, 0, 1, 4, 1, 0, 1, 4, 1, 0, 3, 2, 0, 1, 5, 1,
    ]);
    // A short frame, then reconnect and handshake again.
    run(&[0, 4, 0, 0, 0, 3, 2, 0, 8, 1, 8, 0, 1, 4, 0, 0]);
    // An event padded with zeros where its operands run out (a false alarm of the script).
    run(&[0x19, 0xdc, 0xff, 0xff, 0xff, 0xff, 0xfa, 0xff]);
}
