//! **Leader election.** Three candidates, each with its own session, join a
//! [`LeaderElection`] (Curator's `LeaderSelector` layout). The leader announces itself with a
//! fenced write to a shared node and leads until it loses the leadership. Then the leader is
//! killed (its session expires, as when its process dies) and another candidate takes over;
//! the example prints how long the gap was, twice, until one candidate is left.
//!
//! The candidates use [`ConnectionPolicy::Session`]: a leader keeps its leadership through a
//! dropped connection (an ensemble failover, say) and loses it with its session. The default,
//! `Standard`, gives it up on any disconnect, which is safer for a leader that cannot fence
//! its writes; these leaders fence theirs.
//!
//! ```sh
//! cargo run -p zk-examples --bin leader [-- --connect host:port,...]
//! ```

use std::time::Instant;

use tokio::sync::mpsc;
use zk_client::{Client, CreateMode, CreateOptions, Op};
use zk_recipes::{ConnectionPolicy, Error as RecipeError, LeaderElection};

use crate::{fresh_root, reconnected, remove, retry_op, say, step, text, BoxError, Out, Servers};

const CANDIDATES: usize = 3;

/// A term that started: who, its token, and when.
struct Term {
    candidate: usize,
    czxid: i64,
    started: Instant,
}

/// One candidate: its session and its place in the election.
struct Candidate {
    client: Client,
    election: LeaderElection,
}

/// Runs the example.
pub async fn run(servers: &Servers, out: &Out) -> Result<(), BoxError> {
    let admin = servers.client().await?;
    let root = fresh_root(&admin, "leader").await?;
    let election_path = format!("{root}/election");
    let announce = format!("{root}/leader");
    admin
        .create_all(&announce, b"", &CreateOptions::new(CreateMode::Persistent))
        .await?;

    let (terms_tx, mut terms) = mpsc::unbounded_channel();
    let mut candidates = Vec::new();
    for i in 0..CANDIDATES {
        let client = servers.client().await?;
        let terms_tx = terms_tx.clone();
        let announce = announce.clone();
        let leader_client = client.clone();
        let election = LeaderElection::builder(&client, &election_path, &format!("candidate-{i}"))
            // Leadership ends with the session, not with a dropped connection: a failover of
            // the ensemble does not change the leader.
            .policy(ConnectionPolicy::Session)
            .start(move |leadership| {
                let terms_tx = terms_tx.clone();
                let announce = announce.clone();
                let client = leader_client.clone();
                async move {
                    let me = format!("candidate-{i}").into_bytes();
                    // Only a leader still holding its election node can write this. The
                    // write sets the same value, so it is safe to repeat after a lost reply.
                    let write = [Op::set_data(announce, me, None)];
                    loop {
                        match leadership.fenced_multi(&write).await {
                            Ok(_) => break,
                            Err(RecipeError::Client(e)) if e.is_retryable() => {
                                reconnected(&client).await
                            }
                            Err(_) => return leadership.lost().await,
                        }
                    }
                    let _ = terms_tx.send(Term {
                        candidate: i,
                        czxid: leadership.token().czxid(),
                        started: Instant::now(),
                    });
                    leadership.lost().await;
                }
            })?;
        say!(out, "candidate-{i} joins the election");
        candidates.push(Some(Candidate { client, election }));
    }

    let mut term = step("a first leader", terms.recv())
        .await?
        .ok_or("the elections ended")?;
    say!(
        out,
        "candidate-{} leads (token {:#x}); {} says {:?}",
        term.candidate,
        term.czxid,
        announce,
        text(&retry_op(&admin, || admin.get_data(&announce)).await?.0)
    );

    servers.failover_point(out).await?;
    for _ in 1..CANDIDATES {
        if let Ok(other) = terms.try_recv() {
            return Err(format!("candidate-{} leads at the same time", other.candidate).into());
        }
        let leader = candidates[term.candidate]
            .take()
            .ok_or("a killed candidate leads")?;
        let killed = Instant::now();
        servers.expire_session(&leader.client).await?;
        say!(
            out,
            "candidate-{} is killed (session expired)",
            term.candidate
        );
        let next = step("a new leader", terms.recv())
            .await?
            .ok_or("the elections ended")?;
        let gap = next.started.saturating_duration_since(killed);
        if next.czxid <= term.czxid {
            return Err("the new leader's token is not newer".into());
        }
        say!(
            out,
            "candidate-{} takes over {} ms after the kill (token {:#x}); {} says {:?}",
            next.candidate,
            gap.as_millis(),
            next.czxid,
            announce,
            text(&retry_op(&admin, || admin.get_data(&announce)).await?.0)
        );
        drop(leader.election);
        term = next;
    }

    for candidate in candidates.into_iter().flatten() {
        candidate.election.close().await;
        candidate.client.close().await?;
    }
    remove(&admin, &root).await?;
    admin.close().await?;
    say!(
        out,
        "leader done: one leader at a time, each with a newer token"
    );
    Ok(())
}
