//! The failover hook: examples call [`Servers::failover_point`] in the middle of their run;
//! when the failover tour has armed it, the ensemble's leader member is killed right there,
//! and a probe measures how long writes stall.

use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use zk_client::Client;

use crate::{retry_op, say, BoxError, Out, Servers, EXAMPLES_ROOT};

/// What a failover did: which member was killed, who leads after, and the gap in writes.
#[derive(Debug, Clone)]
pub struct Report {
    /// The killed member's id (`myid`).
    pub killed: u64,
    /// The id of the member leading once writes resumed, if the servers can tell.
    pub new_leader: Option<u64>,
    /// From the kill to the first write that succeeded afterwards.
    pub gap: Duration,
}

/// An armed hook: the probe's client, and the kill once it happened.
#[derive(Debug)]
pub(crate) struct Armed {
    probe: Client,
    fired: Option<Fired>,
}

#[derive(Debug)]
struct Fired {
    killed: u64,
    gap: JoinHandle<Result<Duration, zk_client::Error>>,
}

impl Servers {
    /// Arms the failover hook: the next [`Servers::failover_point`] kills the leader member.
    ///
    /// Errors: servers that cannot kill a member (a single server, an external ensemble).
    pub async fn arm_failover(&self) -> Result<(), BoxError> {
        if !self.can_kill_leader() {
            return Err(format!("{} cannot lose its leader", self.describe()).into());
        }
        let probe = Client::builder(self.connect_string())
            .session_timeout(Duration::from_secs(30))
            .connect()
            .await?;
        retry_op(&probe, || {
            probe.create_all(EXAMPLES_ROOT, b"", &zk_client::CreateOptions::default())
        })
        .await
        .or_else(|e| match e {
            zk_client::Error::NodeExists => Ok(String::new()),
            e => Err(e),
        })?;
        *self.armed() = Some(Armed { probe, fired: None });
        Ok(())
    }

    /// Where an example is mid-run: kills the ensemble's leader member if the failover tour
    /// armed the hook (once per arming), and returns at once so that the example goes on
    /// through the election. Does nothing otherwise.
    pub async fn failover_point(&self, out: &Out) -> Result<(), BoxError> {
        let probe = match self.armed().as_ref() {
            Some(Armed { probe, fired: None }) => probe.clone(),
            _ => return Ok(()),
        };
        let killed_at = Instant::now();
        let killed = self.kill_leader().await?;
        say!(out, "*** failover: member {killed}, the leader, is killed");
        let gap = tokio::spawn(async move {
            retry_op(&probe, || probe.set_data(EXAMPLES_ROOT, b"probe", None)).await?;
            Ok(killed_at.elapsed())
        });
        if let Some(armed) = self.armed().as_mut() {
            armed.fired = Some(Fired { killed, gap });
        }
        Ok(())
    }

    /// Disarms the hook. If it fired: waits for the probe's first write, brings the killed
    /// member back, and reports.
    pub async fn disarm_failover(&self) -> Result<Option<Report>, BoxError> {
        let Some(armed) = self.armed().take() else {
            return Ok(None);
        };
        let report = match armed.fired {
            Some(Fired { killed, gap }) => {
                let gap = gap.await??;
                let new_leader = self.leader().await;
                self.restart_member(killed).await?;
                Some(Report {
                    killed,
                    new_leader,
                    gap,
                })
            }
            None => None,
        };
        armed.probe.close().await?;
        Ok(report)
    }
}
