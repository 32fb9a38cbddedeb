//! Where the examples' ZooKeeper servers come from, and the faults they can inject.

use std::sync::Arc;
use std::time::Duration;

use zk_client::{Client, ClientBuilder};
use zk_testserver::real::{RealOptions, RealZooKeeper};
use zk_testserver::Ensemble;

use crate::failover::Armed;
use crate::proxy::Proxy;
use crate::BoxError;

/// The servers an example runs on: embedded (started by the example, alive as long as this
/// value), an external ensemble, or an ensemble of real ZooKeeper JVMs launched for the run.
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
    /// The failover hook, when armed (see [`Servers::arm_failover`]).
    armed: std::sync::Mutex<Option<Armed>>,
}

#[derive(Debug)]
enum Kind {
    /// An embedded zk-testserver ensemble (behind an async mutex: killing and restarting
    /// members takes `&mut`), with its connect string.
    Embedded {
        ensemble: Box<tokio::sync::Mutex<Ensemble>>,
        connect: String,
        members: usize,
    },
    /// An external ensemble given on the command line or in `ZK_SERVERS`.
    External(String),
    /// Real Apache ZooKeeper members launched by `zk_testserver::real`.
    Real(Arc<RealZooKeeper>),
}

impl Servers {
    /// `--connect <connect string>` from the arguments, else `ZK_SERVERS` from the
    /// environment, else `--real-ensemble` (three real ZooKeeper JVMs, if installed), else
    /// embedded servers.
    pub async fn from_args() -> Result<Servers, BoxError> {
        let args: Vec<String> = std::env::args().collect();
        if args.iter().any(|a| a == "--real-ensemble") {
            return Servers::real_ensemble(3).await;
        }
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

    /// Servers whose leader member can be killed, for the failover tour: the embedded
    /// servers if they are an ensemble, else three real ZooKeeper JVMs. `--connect` and
    /// `ZK_SERVERS` are refused (the tour kills members of its own ensemble only).
    pub async fn for_failover() -> Result<Servers, BoxError> {
        let external = std::env::args().any(|a| a == "--connect")
            || std::env::var("ZK_SERVERS").is_ok_and(|s| !s.trim().is_empty());
        if external {
            return Err("the failover tour kills members of its own ensemble: no --connect".into());
        }
        let embedded = Servers::embedded().await?;
        if embedded.can_kill_leader() {
            return Ok(embedded);
        }
        drop(embedded);
        Servers::real_ensemble(3).await
    }

    /// Starts the embedded servers: a zk-testserver ensemble of three members in this
    /// process, on free loopback ports.
    pub async fn embedded() -> Result<Servers, BoxError> {
        let members = 3;
        let ensemble = Ensemble::builder()
            .members(members)
            .session_timeout_bounds(200, 60_000)
            .start()
            .await?;
        let connect = ensemble.connect_string();
        Ok(Servers::new(Kind::Embedded {
            ensemble: Box::new(tokio::sync::Mutex::new(ensemble)),
            connect,
            members,
        }))
    }

    /// Launches an ensemble of `members` real Apache ZooKeeper JVMs on free loopback ports
    /// (Debian's `zookeeper` package; `scripts/install-deps.sh` installs it).
    pub async fn real_ensemble(members: usize) -> Result<Servers, BoxError> {
        let options = RealOptions {
            tick_time_ms: 200,
            extended_types: true,
            max_session_timeout_ms: Some(60_000),
            ..RealOptions::default()
        };
        let zk = tokio::task::spawn_blocking(move || RealZooKeeper::ensemble(members, options))
            .await??;
        Ok(Servers::new(Kind::Real(Arc::new(zk))))
    }

    /// An external ensemble (`host:port[,host:port...][/chroot]`).
    pub fn external(connect: &str) -> Servers {
        Servers::new(Kind::External(connect.to_string()))
    }

    fn new(kind: Kind) -> Servers {
        Servers {
            kind,
            proxied: std::sync::Mutex::new(Vec::new()),
            armed: std::sync::Mutex::new(None),
        }
    }

    /// The connect string of the servers.
    pub fn connect_string(&self) -> String {
        match &self.kind {
            Kind::Embedded { connect, .. } => connect.clone(),
            Kind::External(connect) => connect.clone(),
            Kind::Real(zk) => zk.connect_string(),
        }
    }

    /// A line describing the servers.
    pub fn describe(&self) -> String {
        match &self.kind {
            Kind::Embedded {
                connect, members, ..
            } => format!("embedded zk-testserver ensemble of {members} members at {connect}"),
            Kind::External(connect) => format!("external ensemble {connect}"),
            Kind::Real(zk) => format!(
                "{} real ZooKeeper members at {}",
                zk.member_count(),
                zk.connect_string()
            ),
        }
    }

    /// True for embedded servers.
    pub fn is_embedded(&self) -> bool {
        matches!(self.kind, Kind::Embedded { .. })
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
            Kind::Embedded { connect, .. } => Ok(builder(connect).connect().await?),
            Kind::External(_) | Kind::Real(_) => {
                let proxy = Arc::new(Proxy::start(&self.connect_string()).await?);
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
            Kind::Embedded { ensemble, .. } => {
                // Only a leader can close a session: during an election, wait for one.
                let ensemble = ensemble.lock().await;
                ensemble.wait_for_leader(Duration::from_secs(10)).await?;
                return match ensemble.expire_session(id.0).await {
                    true => Ok(()),
                    false => Err(format!("no session {:#x} to expire", id.0).into()),
                };
            }
            Kind::External(_) | Kind::Real(_) => self.connect_string(),
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
            Kind::Embedded { ensemble, .. } => {
                let ensemble = ensemble.lock().await;
                for id in ensemble.member_ids() {
                    ensemble.drop_connections(id).await;
                }
                true
            }
            Kind::External(_) | Kind::Real(_) => false,
        }
    }

    /// True when these servers are an ensemble whose leader member can be killed.
    pub fn can_kill_leader(&self) -> bool {
        match &self.kind {
            Kind::Embedded { members, .. } => *members >= 3,
            Kind::Real(zk) => zk.member_count() >= 3,
            Kind::External(_) => false,
        }
    }

    /// Kills the member that leads the ensemble and returns its id (`myid`).
    pub async fn kill_leader(&self) -> Result<u64, BoxError> {
        match &self.kind {
            Kind::Real(zk) if self.can_kill_leader() => {
                let zk = zk.clone();
                let killed = tokio::task::spawn_blocking(move || {
                    let leader = zk.leader().ok_or("no member leads")?;
                    zk.kill(leader)?;
                    Ok::<_, BoxError>(leader)
                })
                .await??;
                Ok(killed as u64 + 1)
            }
            Kind::Embedded { ensemble, .. } if self.can_kill_leader() => {
                let mut ensemble = ensemble.lock().await;
                let leader = ensemble.leader().ok_or("no member leads")?;
                ensemble.kill(leader);
                Ok(leader)
            }
            _ => Err(format!("{} cannot lose its leader", self.describe()).into()),
        }
    }

    /// The id (`myid`) of the member that leads now, if the servers can tell.
    pub async fn leader(&self) -> Option<u64> {
        match &self.kind {
            Kind::Real(zk) => {
                let zk = zk.clone();
                let leader = tokio::task::spawn_blocking(move || zk.leader()).await;
                leader.ok().flatten().map(|index| index as u64 + 1)
            }
            Kind::Embedded { ensemble, .. } => ensemble.lock().await.leader(),
            Kind::External(_) => None,
        }
    }

    /// Starts killed member `id` (`myid`) again and waits until it serves.
    pub async fn restart_member(&self, id: u64) -> Result<(), BoxError> {
        match &self.kind {
            Kind::Real(zk) => {
                let zk = zk.clone();
                let index = usize::try_from(id)?
                    .checked_sub(1)
                    .ok_or("member ids start at 1")?;
                tokio::task::spawn_blocking(move || zk.restart(index)).await??;
                Ok(())
            }
            Kind::Embedded { ensemble, .. } => {
                let mut ensemble = ensemble.lock().await;
                ensemble.restart(id).await?;
                ensemble.wait_serving(id, Duration::from_secs(10)).await?;
                Ok(())
            }
            Kind::External(_) => {
                Err(format!("{} has no members to restart", self.describe()).into())
            }
        }
    }

    pub(crate) fn armed(&self) -> std::sync::MutexGuard<'_, Option<Armed>> {
        self.armed.lock().unwrap_or_else(|e| e.into_inner())
    }
}
