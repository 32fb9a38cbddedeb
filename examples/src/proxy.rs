//! A loopback TCP proxy in front of one client's servers, so that a fault can cut that client
//! off from an external ensemble (which offers no fault injection of its own).

use std::io;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Listens on one loopback port per upstream host and forwards each connection, unless cut.
/// Dropping it stops the listeners and closes the connections.
#[derive(Debug)]
pub(crate) struct Proxy {
    connect: String,
    cut: watch::Sender<bool>,
}

impl Proxy {
    /// Starts a proxy in front of `upstream` (`host:port[,host:port...][/chroot]`).
    pub(crate) async fn start(upstream: &str) -> io::Result<Proxy> {
        let (hosts, chroot) = match upstream.find('/') {
            Some(at) => upstream.split_at(at),
            None => (upstream, ""),
        };
        let (cut, _) = watch::channel(false);
        let mut local = Vec::new();
        for host in hosts.split(',').map(str::trim).filter(|h| !h.is_empty()) {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            local.push(listener.local_addr()?.to_string());
            tokio::spawn(serve(listener, host.to_string(), cut.subscribe()));
        }
        Ok(Proxy {
            connect: format!("{}{chroot}", local.join(",")),
            cut,
        })
    }

    /// The connect string that goes through the proxy.
    pub(crate) fn connect_string(&self) -> &str {
        &self.connect
    }

    /// Cuts (closes every connection and refuses new ones) or restores the path.
    pub(crate) fn set_cut(&self, cut: bool) {
        self.cut.send_replace(cut);
    }
}

/// Accepts connections and forwards them to `upstream` while not cut.
async fn serve(listener: TcpListener, upstream: String, mut cut: watch::Receiver<bool>) {
    loop {
        let socket = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((socket, _)) => socket,
                Err(e) => {
                    tracing::warn!(error = %e, "proxy accept failed");
                    return;
                }
            },
            changed = cut.changed() => {
                if changed.is_err() {
                    return; // the proxy was dropped
                }
                continue;
            }
        };
        if *cut.borrow() {
            continue; // dropping the socket refuses the connection
        }
        let mut cut = cut.clone();
        let upstream = upstream.clone();
        tokio::spawn(async move {
            let mut socket = socket;
            let Ok(mut server) = TcpStream::connect(&upstream).await else {
                return;
            };
            tokio::select! {
                _ = tokio::io::copy_bidirectional(&mut socket, &mut server) => {}
                _ = cut.wait_for(|cut| *cut) => {}
            }
        });
    }
}
