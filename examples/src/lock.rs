//! **Distributed lock.** Four workers, each with its own session, add 1 to a shared counter
//! five times each under a [`Mutex`] (Curator's `InterProcessMutex` layout). Every write is
//! fenced (`multi(check(lock node), setData)`) and stamped with the holder's fencing token
//! (the lock node's creation zxid), and each worker checks that the token it finds is older
//! than its own: the lock was held by one worker at a time, in token order. The final count
//! is exact.
//!
//! Then the classic failure: a holder pauses past its session timeout, its session expires,
//! another worker takes the lock and writes; when the first one wakes up (its client already
//! in a new session) its fenced write is refused by the server, so it cannot overwrite the
//! new holder's work.
//!
//! ```sh
//! cargo run -p zk-examples --bin lock [-- --connect host:port,...]
//! ```

use zk_client::{Client, CreateMode, CreateOptions, Op, SessionState};
use zk_recipes::{Error as RecipeError, Mutex, MutexGuard};

use crate::{fresh_root, reconnected, remove, retry_op, say, step, text, BoxError, Out, Servers};

const WORKERS: usize = 4;
const ROUNDS: usize = 5;

/// Runs the example.
pub async fn run(servers: &Servers, out: &Out) -> Result<(), BoxError> {
    let admin = servers.client().await?;
    let root = fresh_root(&admin, "lock").await?;
    let counter = format!("{root}/counter");
    let lock_path = format!("{root}/lock");
    admin
        .create_all(
            &counter,
            b"0 0",
            &CreateOptions::new(CreateMode::Persistent),
        )
        .await?;
    say!(
        out,
        "{WORKERS} workers add 1 to {counter} {ROUNDS} times each, under the lock {lock_path}"
    );

    let workers = (0..WORKERS).map(|w| worker(servers, out, w, &counter, &lock_path));
    futures::future::try_join_all(workers).await?;
    let count = read_counter(&admin, &counter).await?.0;
    if count != (WORKERS * ROUNDS) as i64 {
        return Err(format!("counter is {count}, expected {}", WORKERS * ROUNDS).into());
    }
    say!(
        out,
        "counter = {count} (expected {}): no increment lost",
        WORKERS * ROUNDS
    );

    // A holder that pauses past its session timeout.
    let sleeper = servers
        .client_with(|b| b.renew_session_on_expiry(true))
        .await?;
    let sleeper_guard = Mutex::new(&sleeper, &lock_path)?.acquire().await?;
    let old_token = sleeper_guard.token().czxid();
    say!(
        out,
        "worker A holds the lock (token {old_token:#x}) and pauses"
    );
    let count = read_counter(&sleeper, &counter).await?.0;
    let old = sleeper.session_id();
    let mut sleeper_state = sleeper.state();
    servers.expire_session(&sleeper).await?;
    say!(out, "worker A's session expires; its lock node is gone");

    let other = servers.client().await?;
    let guard = step(
        "worker B acquires",
        Mutex::new(&other, &lock_path)?.acquire(),
    )
    .await??;
    let new_token = guard.token().czxid();
    say!(
        out,
        "worker B acquires the lock with token {new_token:#x} (> {old_token:#x})"
    );
    let written = increment(&other, &guard, &counter).await?;
    say!(out, "worker B writes under the lock: counter = {written}");
    guard.release().await;

    step(
        "worker A's client renews its session",
        sleeper_state.wait_for(|s| *s == SessionState::Connected && sleeper.session_id() != old),
    )
    .await??;
    // Worker A read the counter before its pause; it now writes what it computed then.
    let stale = format!("{} {old_token}", count + 1);
    let write = Op::set_data(&counter, stale.into_bytes(), None);
    match sleeper_guard.fenced_multi(&[write]).await {
        Err(e @ RecipeError::Fenced { .. }) => {
            say!(out, "worker A wakes up and writes: refused ({e})")
        }
        Err(e) => return Err(e.into()),
        Ok(_) => return Err("a stale holder's write applied".into()),
    }
    let count = read_counter(&admin, &counter).await?.0;
    if count != written {
        return Err(format!("counter is {count}, expected {written}").into());
    }
    say!(out, "counter stays {count}: the stale write was fenced off");

    drop(sleeper_guard);
    sleeper.close().await?;
    other.close().await?;
    remove(&admin, &root).await?;
    admin.close().await?;
    say!(out, "lock done");
    Ok(())
}

/// One worker: its own session, `ROUNDS` increments under the lock.
async fn worker(
    servers: &Servers,
    out: &Out,
    w: usize,
    counter: &str,
    lock_path: &str,
) -> Result<(), BoxError> {
    let client = servers.client().await?;
    let mutex = Mutex::new(&client, lock_path)?;
    let mut tokens = Vec::new();
    for round in 0..ROUNDS {
        let guard = step("acquire the lock", mutex.acquire()).await??;
        increment(&client, &guard, counter).await?;
        tokens.push(format!("{:#x}", guard.token().czxid()));
        guard.release().await;
        if w == 0 && round == 1 {
            servers.failover_point(out).await?;
        }
    }
    say!(
        out,
        "worker {w} did {ROUNDS} increments with tokens {}",
        tokens.join(" ")
    );
    client.close().await?;
    Ok(())
}

/// Reads the counter and writes it plus one with our token, fenced by the lock. Checks that
/// the token of the previous write is older than ours.
///
/// If the connection drops with the write in flight (a failover), its outcome is unknown:
/// the counter then shows our token if it applied; if not, the write is made again (still
/// under the lock, and versioned, so it cannot apply twice).
async fn increment(client: &Client, guard: &MutexGuard, counter: &str) -> Result<i64, BoxError> {
    let token = guard.token().czxid();
    loop {
        let (count, last_token, version) = read_counter(client, counter).await?;
        if last_token == token {
            return Ok(count); // our write applied; its reply was lost
        }
        if last_token > token {
            return Err(format!("token {token:#x} is not newer than {last_token:#x}").into());
        }
        let value = format!("{} {token}", count + 1);
        let write = [Op::set_data(counter, value.into_bytes(), Some(version))];
        match guard.fenced_multi(&write).await {
            Ok(_) => return Ok(count + 1),
            Err(RecipeError::Client(e)) if e.is_retryable() => reconnected(client).await,
            Err(e) => return Err(e.into()),
        }
    }
}

/// The counter's value, the token of its last write, and its version.
async fn read_counter(client: &Client, counter: &str) -> Result<(i64, i64, i32), BoxError> {
    let (data, stat) = retry_op(client, || client.get_data(counter)).await?;
    let data = text(&data);
    let mut fields = data.split(' ').map(str::parse::<i64>);
    match (fields.next(), fields.next()) {
        (Some(Ok(count)), Some(Ok(token))) => Ok((count, token, stat.version)),
        _ => Err(format!("bad counter {data:?}").into()),
    }
}
