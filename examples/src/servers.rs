//! Where the examples' ZooKeeper servers come from, and the faults they can inject.

use std::sync::Arc;
use std::time::Duration;

use zk_client::{Client, ClientBuilder};
use zk_testserver::TestServer;

use crate::proxy::Proxy;
use crate::BoxError;

/// The servers an example runs on: embedded (started by the example, alive as long as this
/// value) or an external ensemble.
///
/// Examples make their clients with [`Servers::client`] and inject faults with the methods
/// here, which work on any servers, so switching the embedded servers is a change in this
/// file alone.
#[derive(Debug)]
pub struct Servers {
    kind: Kind,
    /// On an external ensemble, each client made here and the proxy it connects through.
    /// (A std mutex: never held across an await.)
    proxied: std::sync::Mutex<Vec<(Client, Arc<Proxy>)>>,
}

#[derive(Debug)]
enum Kind {
    /// An embedded zk-testserver.
    Embedded(Box<TestServer>),
    /// An external ensemble given on the command line or in `ZK_SERVERS`.
    External(String),
}

impl Servers {
    /// `--connect <connect string>` from the arguments, else `ZK_SERVERS` from the
    /// environment, else embedded servers.
    pub async fn from_args() -> Result<Servers, BoxError> {
        let args: Vec<String> = std::env::args().collect();
        if let Some(i) = args.iter().position(|a| a == "--connect") {
            let connect = args
                .get(i + 1)
                .ok_or("--connect needs a connect string, e.g. 127.0.0.1:2181")?;
            return Ok(Servers::external(connect));
        }
        match std::env::var("ZK_SERVERS") {
            Ok(connect) if !connect.trim().is_empty() => Ok(Servers::external(connect.trim())),
            _ => Servers::embedded().await,
        }
    }

    /// Starts embedded servers on free loopback ports.
    pub async fn embedded() -> Result<Servers, BoxError> {
        let server = TestServer::builder()
            .tick_time_ms(100)
            .session_timeout_bounds(200, 60_000)
            .extended_types(true)
            .start()
            .await?;
        Ok(Servers::new(Kind::Embedded(Box::new(server))))
    }

    /// An external ensemble (`host:port[,host:port...][/chroot]`).
    pub fn external(connect: &str) -> Servers {
        Servers::new(Kind::External(connect.to_string()))
    }

    fn new(kind: Kind) -> Servers {
        Servers {
            kind,
            proxied: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// The connect string of the servers.
    pub fn connect_string(&self) -> String {
        match &self.kind {
            Kind::Embedded(server) => server.connect_string(),
            Kind::External(connect) => connect.clone(),
        }
    }

    /// A line describing the servers.
    pub fn describe(&self) -> String {
        match &self.kind {
            Kind::Embedded(server) => {
                format!("embedded zk-testserver at {}", server.connect_string())
            }
            Kind::External(connect) => format!("external ensemble {connect}"),
        }
    }

    /// True for embedded servers.
    pub fn is_embedded(&self) -> bool {
        matches!(self.kind, Kind::Embedded(_))
    }

    /// A connected client with a 10 s session timeout.
    pub async fn client(&self) -> Result<Client, BoxError> {
        self.client_with(|builder| builder).await
    }

    /// A connected client with a 10 s session timeout and whatever `configure` sets.
    ///
    /// On an external ensemble the client connects through a loopback proxy of its own, so
    /// that [`Servers::expire_session`] can cut it off.
    pub async fn client_with(
        &self,
        configure: impl FnOnce(ClientBuilder) -> ClientBuilder,
    ) -> Result<Client, BoxError> {
        let builder = |connect: &str| {
            configure(Client::builder(connect).session_timeout(Duration::from_secs(10)))
        };
        match &self.kind {
            Kind::Embedded(server) => Ok(builder(&server.connect_string()).connect().await?),
            Kind::External(connect) => {
                let proxy = Arc::new(Proxy::start(connect).await?);
                let client = builder(proxy.connect_string()).connect().await?;
                self.proxied
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((client.clone(), proxy));
                Ok(client)
            }
        }
    }

    /// Ends `client`'s session as if its process had died and the session had timed out:
    /// its ephemeral nodes go, watchers fire, and the client learns on its next contact
    /// that the session expired.
    ///
    /// Embedded servers expire the session themselves. On an external ensemble the client's
    /// proxy cuts it off, a second connection takes over the session (its id and password)
    /// and closes it, which ZooKeeper treats the same way, and the proxy lets the client
    /// reconnect.
    pub async fn expire_session(&self, client: &Client) -> Result<(), BoxError> {
        let id = client.session_id();
        let connect = match &self.kind {
            Kind::Embedded(server) => {
                return match server.expire_session(id.0).await {
                    true => Ok(()),
                    false => Err(format!("no session {:#x} to expire", id.0).into()),
                };
            }
            Kind::External(connect) => connect,
        };
        let proxy = self
            .proxied
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|(c, _)| c.session_id() == id)
            .map(|(_, proxy)| proxy.clone())
            .ok_or("expire_session needs a client made by Servers::client")?;
        proxy.set_cut(true);
        let closed = async {
            let thief = Client::builder(connect.clone())
                .session_timeout(Duration::from_secs(10))
                .session(id, &client.session_password())
                .fail_fast()
                .connect()
                .await?;
            thief.close().await
        }
        .await;
        proxy.set_cut(false);
        Ok(closed?)
    }

    /// Drops every client connection (the clients reconnect with their sessions). Returns
    /// false, doing nothing, on an external ensemble.
    pub async fn drop_connections(&self) -> bool {
        match &self.kind {
            Kind::Embedded(server) => {
                server.drop_connections().await;
                true
            }
            Kind::External(_) => false,
        }
    }
}
