//! Four-letter-word exchanges with a member's client port.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Timeout of one four-letter-word exchange.
const FOUR_LETTER_TIMEOUT: Duration = Duration::from_secs(5);

/// One four-letter-word exchange: connect, send the word, read until the server closes.
pub(super) fn four_letter_at(addr: SocketAddr, command: &str) -> io::Result<String> {
    let mut stream = TcpStream::connect_timeout(&addr, FOUR_LETTER_TIMEOUT)?;
    stream.set_read_timeout(Some(FOUR_LETTER_TIMEOUT))?;
    stream.set_write_timeout(Some(FOUR_LETTER_TIMEOUT))?;
    stream.write_all(command.as_bytes())?;
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply)?;
    Ok(String::from_utf8_lossy(&reply).into_owned())
}

/// The value of the `Mode:` line of a `srvr`/`stat` reply.
pub(super) fn parse_mode(reply: &str) -> Option<String> {
    reply
        .lines()
        .find_map(|line| line.strip_prefix("Mode:"))
        .map(|mode| mode.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mode() {
        let reply = "Zookeeper version: 3.8.0\nLatency min/avg/max: 0/0.0/0\nZxid: 0x0\n\
                     Mode: follower\nNode count: 5\n";
        assert_eq!(parse_mode(reply).as_deref(), Some("follower"));
        assert_eq!(
            parse_mode("This ZooKeeper instance is not currently serving requests\n"),
            None
        );
    }
}
