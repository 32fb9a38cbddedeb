//! The test server's sans-IO core (`zk_testserver::core::ServerCore`) driven by a script:
//! handshakes, valid, mutated and arbitrary request frames, ticks, closes and reconnects (the
//! script format is documented in zk-testserver's `__fuzz` module). Outputs must target open
//! connections in request order, and `ServerCore::check_invariants` must hold throughout.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    zk_testserver::__fuzz::server_script(data);
});
