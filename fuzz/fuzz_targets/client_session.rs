//! The client's sans-IO session core driven by a script: a session established, requests
//! (watch registrations among them) submitted, then arbitrary bytes and mutated server frames
//! fed to it, interleaved with time passing and disconnects (the script format is documented
//! in zk-client's `session::fuzz_script` module). Every request must complete at most once,
//! and a bad frame must make the core drop the connection.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    zk_client::__fuzz::session_script(data);
});
