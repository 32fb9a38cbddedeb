//! The ensemble configuration (`getConfig`, `reconfig`) and watch management (`addWatch`,
//! `removeWatches`, `checkWatches`) of [`Client`].

use super::*;

impl Client {
    /// The ensemble configuration (`/zookeeper/config`, outside any chroot).
    pub fn get_config(&self) -> impl Future<Output = Result<(Bytes, Stat)>> + Send + 'static {
        let request = Ok(Request::GetData(GetDataRequest {
            path: CONFIG_NODE.into(),
            watch: false,
        }));
        let reply = self.send_request(request, None, None);
        async move { data_result(reply.await?) }
    }

    /// Like [`Client::get_config`], with a one-shot watch on the configuration.
    pub fn get_config_and_watch(
        &self,
    ) -> impl Future<Output = Result<(Bytes, Stat, OneshotWatcher)>> + Send + 'static {
        let request = Ok(Request::GetData(GetDataRequest {
            path: CONFIG_NODE.into(),
            watch: true,
        }));
        let (reply, watcher) = self.send_watched(request, WatchIntent::Data);
        async move {
            let (data, stat) = data_result(reply.await?)?;
            Ok((data, stat, watcher))
        }
    }

    /// Changes the ensemble membership; returns the new configuration.
    ///
    /// Errors: [`Error::ReconfigDisabled`], [`Error::NoAuth`] (needs super or an ACL on
    /// `/zookeeper/config`), [`Error::BadVersion`], [`Error::NewConfigNoQuorum`],
    /// [`Error::ReconfigInProgress`].
    pub fn reconfig(
        &self,
        reconfig: &Reconfig,
    ) -> impl Future<Output = Result<(Bytes, Stat)>> + Send + 'static {
        let request = Ok(Request::Reconfig(ReconfigRequest {
            joining_servers: reconfig.joining.clone(),
            leaving_servers: reconfig.leaving.clone(),
            new_members: reconfig.new_members.clone(),
            cur_config_id: reconfig.from_config.unwrap_or(-1),
        }));
        let reply = self.send_request(request, None, None);
        async move {
            match reply.await? {
                Response::Reconfig(r) => Ok((r.data.unwrap_or_default(), r.stat)),
                _ => Err(unexpected_response()),
            }
        }
    }

    /// Sets a persistent (or persistent recursive) watch and returns its event stream.
    /// The watch needs no existing node; it stays until the watcher is dropped and is
    /// re-registered after every reconnect.
    ///
    /// Mixing one-shot and persistent watches on the same path in one session is unreliable on
    /// 3.6-3.8 servers (ZOOKEEPER-4466); prefer one style per path.
    pub fn add_watch(
        &self,
        path: &str,
        mode: AddWatchMode,
    ) -> impl Future<Output = Result<PersistentWatcher>> + Send + 'static {
        let (wire_mode, intent) = match mode {
            AddWatchMode::Persistent => {
                (zk_proto::AddWatchMode::Persistent, WatchIntent::Persistent)
            }
            AddWatchMode::PersistentRecursive => (
                zk_proto::AddWatchMode::PersistentRecursive,
                WatchIntent::PersistentRecursive,
            ),
        };
        let request = self.path(path).map(|path| {
            Request::AddWatch(AddWatchRequest {
                path,
                mode: wire_mode,
            })
        });
        let id = self.next_watcher_id();
        let (watcher, sink) =
            PersistentWatcher::new(id, self.commands.downgrade(), self.shared.watch_buffer);
        let reply = self.send_request(
            request,
            Some(WatchOp::Register(id, intent)),
            Some((id, sink)),
        );
        async move {
            reply.await?;
            Ok(watcher)
        }
    }

    /// Removes every watch of `watcher_type` on `path`, on the server and in this client: the
    /// affected one-shot watchers complete with a `DataWatchRemoved`/`ChildWatchRemoved`
    /// event, persistent ones yield `PersistentWatchRemoved` and end. Usually dropping a
    /// watcher is all you need; this removes the watches of every owner at once.
    ///
    /// Errors: [`Error::NoWatcher`] if the server has no such watch.
    pub fn remove_watches(
        &self,
        path: &str,
        watcher_type: WatcherType,
    ) -> impl Future<Output = Result<()>> + Send + 'static {
        let wire = watcher_type.to_wire();
        let request = self.path(path).map(|path| {
            Request::RemoveWatches(RemoveWatchesRequest {
                path,
                watcher_type: wire,
            })
        });
        let reply = self.send_request(request, Some(WatchOp::RemoveLocal(wire)), None);
        async move { reply.await.map(|_| ()) }
    }

    /// Checks that the server holds a watch of `watcher_type` on `path` for this session.
    ///
    /// Errors: [`Error::NoWatcher`].
    pub fn check_watches(
        &self,
        path: &str,
        watcher_type: WatcherType,
    ) -> impl Future<Output = Result<()>> + Send + 'static {
        let request = self.path(path).map(|path| {
            Request::CheckWatches(CheckWatchesRequest {
                path,
                watcher_type: watcher_type.to_wire(),
            })
        });
        let reply = self.send_request(request, None, None);
        async move { reply.await.map(|_| ()) }
    }
}
