// Drives the real Java client of ZooKeeper 3.8 through scripts/golden/proxy.py so the proxy
// records the frames of (nearly) every client operation. Run by scripts/golden/capture.sh:
//
//   javac -cp /usr/share/java/zookeeper.jar:... -d OUT Capture.java
//   java -cp OUT:... Capture 127.0.0.1:PROXY_PORT CONTROL_PORT
//
// Each step first sends `comment ...` over the proxy's control port, so the fixture file names
// the scenario above the frames it produced. Any unexpected outcome throws and exits non-zero.

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import org.apache.zookeeper.AddWatchMode;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.OpResult;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.Watcher.Event.EventType;
import org.apache.zookeeper.Watcher.Event.KeeperState;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.admin.ZooKeeperAdmin;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.Id;
import org.apache.zookeeper.data.Stat;
import org.apache.zookeeper.server.auth.DigestAuthenticationProvider;

public class Capture {
    /** Session timeout asked for: 4 s, so an idle client pings after about 1.3 s. */
    static final int SESSION_TIMEOUT_MS = 4000;
    static final long TTL_MS = 600_000;

    static Control control;

    /** The proxy's line-based control connection. */
    static final class Control {
        final Socket socket;
        final BufferedReader in;
        final Writer out;

        Control(int port) throws Exception {
            socket = new Socket("127.0.0.1", port);
            in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
            out = new OutputStreamWriter(socket.getOutputStream(), StandardCharsets.UTF_8);
        }

        String send(String command) throws Exception {
            out.write(command + "\n");
            out.flush();
            String reply = in.readLine();
            if (reply == null || !reply.startsWith("ok")) {
                throw new IllegalStateException("proxy control: " + command + " -> " + reply);
            }
            return reply;
        }
    }

    static void note(String text) throws Exception {
        control.send("comment " + text);
    }

    /** Collects events: state changes (type None) and node events go to separate queues. */
    static final class Events implements Watcher {
        final String name;
        final BlockingQueue<WatchedEvent> states = new LinkedBlockingQueue<>();
        final BlockingQueue<WatchedEvent> nodes = new LinkedBlockingQueue<>();

        Events(String name) {
            this.name = name;
        }

        @Override
        public void process(WatchedEvent event) {
            if (event.getType() == EventType.None) {
                states.add(event);
            } else {
                nodes.add(event);
            }
        }

        void awaitState(KeeperState state) throws Exception {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (true) {
                long left = deadline - System.nanoTime();
                WatchedEvent e = states.poll(Math.max(left, 0), TimeUnit.NANOSECONDS);
                if (e == null) {
                    throw new IllegalStateException(name + ": no " + state + " event");
                }
                if (e.getState() == state) {
                    return;
                }
            }
        }

        void awaitNode(EventType type, String path) throws Exception {
            WatchedEvent e = nodes.poll(10, TimeUnit.SECONDS);
            // *WatchRemoved events are produced by the client itself (removeWatches).
            while (e != null && e.getType().getIntValue() >= 5) {
                e = nodes.poll(10, TimeUnit.SECONDS);
            }
            if (e == null || e.getType() != type || !path.equals(e.getPath())) {
                throw new IllegalStateException(name + ": expected " + type + " " + path + ", got " + e);
            }
        }
    }

    interface Action {
        void run() throws Exception;
    }

    static void expectError(KeeperException.Code code, Action action) throws Exception {
        try {
            action.run();
        } catch (KeeperException e) {
            if (e.code() != code) {
                throw new IllegalStateException("expected " + code + ", got " + e.code(), e);
            }
            return;
        }
        throw new IllegalStateException("expected " + code + ", but the call succeeded");
    }

    /** addAuthInfo only queues the packet: wait until the proxy has recorded it. */
    static void addAuth(ZooKeeper zk, String scheme, String auth) throws Exception {
        int before = Integer.parseInt(control.send("frames").split(" ")[1]);
        zk.addAuthInfo(scheme, bytes(auth));
        control.send("await-client " + (before + 1));
    }

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static final List<ACL> OPEN = ZooDefs.Ids.OPEN_ACL_UNSAFE;

    public static void main(String[] args) throws Exception {
        String connect = args[0];
        control = new Control(Integer.parseInt(args[1]));
        mainSession(connect);
        oneShotWatchSession(connect);
        authFailureSession(connect);
        note("capture complete");
    }

    /** Every operation, persistent watches, a ping, and a reconnect that sends setWatches2. */
    static void mainSession(String connect) throws Exception {
        note("=== session A: every operation; reconnect with persistent watches -> setWatches2 ===");
        note("connect: ConnectRequest / ConnectResponse (timeout " + SESSION_TIMEOUT_MS + " ms)");
        Events ev = new Events("A");
        ZooKeeperAdmin zk = new ZooKeeperAdmin(connect, SESSION_TIMEOUT_MS, ev);
        ev.awaitState(KeeperState.SyncConnected);

        note("whoAmI (107) before auth");
        zk.whoAmI();

        note("auth (xid -4, type 100): digest golden:secret");
        addAuth(zk, "digest", "golden:secret");
        note("whoAmI (107) after auth");
        zk.whoAmI();

        Stat stat = new Stat();
        note("create (1) PERSISTENT /golden");
        zk.create("/golden", bytes("root"), OPEN, CreateMode.PERSISTENT);
        note("create (1) EPHEMERAL /golden/ephemeral");
        zk.create("/golden/ephemeral", bytes("e"), OPEN, CreateMode.EPHEMERAL);
        note("create (1) PERSISTENT_SEQUENTIAL /golden/seq-");
        zk.create("/golden/seq-", bytes("s"), OPEN, CreateMode.PERSISTENT_SEQUENTIAL);
        note("create (1) EPHEMERAL_SEQUENTIAL /golden/eseq-");
        zk.create("/golden/eseq-", bytes("es"), OPEN, CreateMode.EPHEMERAL_SEQUENTIAL);
        note("createContainer (19) CONTAINER /golden/container");
        zk.create("/golden/container", bytes("c"), OPEN, CreateMode.CONTAINER);
        note("create (1) PERSISTENT /golden/container/child");
        zk.create("/golden/container/child", bytes("cc"), OPEN, CreateMode.PERSISTENT);
        note("createTTL (21) PERSISTENT_WITH_TTL /golden/ttl ttl=" + TTL_MS);
        zk.create("/golden/ttl", bytes("t"), OPEN, CreateMode.PERSISTENT_WITH_TTL, stat, TTL_MS);
        note("createTTL (21) PERSISTENT_SEQUENTIAL_WITH_TTL /golden/ttl-seq- ttl=" + TTL_MS);
        zk.create("/golden/ttl-seq-", bytes("ts"), OPEN, CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL, stat, TTL_MS);
        note("create2 (15) PERSISTENT /golden/create2 (create with Stat)");
        zk.create("/golden/create2", bytes("v0"), OPEN, CreateMode.PERSISTENT, stat);
        note("create2 (15) EPHEMERAL_SEQUENTIAL /golden/create2-eseq- (create with Stat)");
        zk.create("/golden/create2-eseq-", bytes("v0"), OPEN, CreateMode.EPHEMERAL_SEQUENTIAL, stat);
        note("create (1) /golden/null-data with null data (buffer length -1)");
        zk.create("/golden/null-data", null, OPEN, CreateMode.PERSISTENT);
        note("create (1) /golden/empty-data with empty data (buffer length 0)");
        zk.create("/golden/empty-data", new byte[0], OPEN, CreateMode.PERSISTENT);
        note("create (1) /golden/locked with CREATOR_ALL_ACL (digest id of the auth)");
        zk.create("/golden/locked", bytes("secret"), ZooDefs.Ids.CREATOR_ALL_ACL, CreateMode.PERSISTENT);
        note("create (1) /golden/acl with READ_ACL_UNSAFE + digest ALL");
        List<ACL> mixed = new ArrayList<>(ZooDefs.Ids.READ_ACL_UNSAFE);
        mixed.add(new ACL(ZooDefs.Perms.ALL, new Id("digest", DigestAuthenticationProvider.generateDigest("golden:secret"))));
        zk.create("/golden/acl", bytes("acl"), mixed, CreateMode.PERSISTENT);
        note("create (1) existing /golden -> error -110 NodeExists");
        expectError(KeeperException.Code.NODEEXISTS,
                () -> zk.create("/golden", null, OPEN, CreateMode.PERSISTENT));
        note("create (1) /no/parent -> error -101 NoNode");
        expectError(KeeperException.Code.NONODE,
                () -> zk.create("/no/parent", null, OPEN, CreateMode.PERSISTENT));
        note("create (1) EPHEMERAL child of an ephemeral -> error -108 NoChildrenForEphemerals");
        expectError(KeeperException.Code.NOCHILDRENFOREPHEMERALS,
                () -> zk.create("/golden/ephemeral/x", null, OPEN, CreateMode.PERSISTENT));

        note("exists (3) /golden present, no watch");
        zk.exists("/golden", false);
        note("exists (3) /golden/missing with watch -> error -101 NoNode (sets an exist watch)");
        if (zk.exists("/golden/missing", true) != null) {
            throw new IllegalStateException("/golden/missing exists");
        }

        note("getData (4) /golden with Stat, no watch");
        zk.getData("/golden", false, stat);
        note("getData (4) /golden/null-data (server returns empty data)");
        zk.getData("/golden/null-data", false, stat);
        note("getData (4) /golden/missing -> error -101 NoNode");
        expectError(KeeperException.Code.NONODE, () -> zk.getData("/golden/missing", false, null));
        note("getData (4) /golden/create2 with watch=true");
        zk.getData("/golden/create2", true, stat);
        note("setData (5) /golden/create2 version -1; fires the data watch: event xid -1 NodeDataChanged");
        zk.setData("/golden/create2", bytes("v1"), -1);
        ev.awaitNode(EventType.NodeDataChanged, "/golden/create2");
        note("setData (5) /golden/create2 with the current version 1");
        zk.setData("/golden/create2", bytes("v2"), 1);
        note("setData (5) /golden/create2 with a wrong version -> error -103 BadVersion");
        expectError(KeeperException.Code.BADVERSION, () -> zk.setData("/golden/create2", bytes("x"), 42));

        note("getACL (6) /golden/locked");
        zk.getACL("/golden/locked", stat);
        note("getACL (6) /golden/acl");
        zk.getACL("/golden/acl", stat);
        note("setACL (7) /golden/acl aversion 0 -> world READ|WRITE|ADMIN");
        zk.setACL("/golden/acl", Collections.singletonList(
                new ACL(ZooDefs.Perms.READ | ZooDefs.Perms.WRITE | ZooDefs.Perms.ADMIN, ZooDefs.Ids.ANYONE_ID_UNSAFE)), 0);
        note("setACL (7) with a wrong aversion -> error -103 BadVersion");
        expectError(KeeperException.Code.BADVERSION,
                () -> zk.setACL("/golden/acl", OPEN, 7));
        note("setACL (7) with an empty ACL list -> error -114 InvalidACL");
        expectError(KeeperException.Code.INVALIDACL,
                () -> zk.setACL("/golden/acl", Collections.emptyList(), -1));

        note("getChildren (8) /golden, no watch");
        zk.getChildren("/golden", false);
        note("getChildren (8) /golden/empty-data (no children)");
        zk.getChildren("/golden/empty-data", false);
        note("getChildren2 (12) /golden with Stat and watch=true");
        zk.getChildren("/golden", true, stat);
        note("create (1) /golden/child-trigger; fires the child watch: event NodeChildrenChanged");
        zk.create("/golden/child-trigger", bytes("x"), OPEN, CreateMode.PERSISTENT);
        ev.awaitNode(EventType.NodeChildrenChanged, "/golden");

        note("sync (9) /golden");
        CountDownLatch synced = new CountDownLatch(1);
        int[] syncRc = {Integer.MIN_VALUE};
        zk.sync("/golden", (rc, path, ctx) -> {
            syncRc[0] = rc;
            synced.countDown();
        }, null);
        if (!synced.await(10, TimeUnit.SECONDS) || syncRc[0] != 0) {
            throw new IllegalStateException("sync failed: " + syncRc[0]);
        }

        note("getEphemerals (103) prefix /");
        zk.getEphemerals();
        note("getEphemerals (103) prefix /golden/e");
        zk.getEphemerals("/golden/e");
        note("getAllChildrenNumber (104) /golden");
        zk.getAllChildrenNumber("/golden");
        note("getAllChildrenNumber (104) /golden/missing -> error -101 NoNode");
        expectError(KeeperException.Code.NONODE, () -> zk.getAllChildrenNumber("/golden/missing"));

        note("multi (14) succeeding: create, createTTL, createContainer, setData, check, create, delete");
        List<OpResult> results = zk.multi(Arrays.asList(
                Op.create("/golden/multi-a", bytes("a"), OPEN, CreateMode.PERSISTENT),
                Op.create("/golden/multi-ttl", bytes("t"), OPEN, CreateMode.PERSISTENT_WITH_TTL, TTL_MS),
                Op.create("/golden/multi-container", bytes("c"), OPEN, CreateMode.CONTAINER),
                Op.create("/golden/multi-seq-", bytes("s"), OPEN, CreateMode.EPHEMERAL_SEQUENTIAL),
                Op.setData("/golden/multi-a", bytes("a1"), 0),
                Op.check("/golden/multi-a", 1),
                Op.create("/golden/multi-b", null, OPEN, CreateMode.PERSISTENT),
                Op.delete("/golden/multi-b", 0)));
        if (results.size() != 8) {
            throw new IllegalStateException("multi results: " + results);
        }
        note("multi (14) failing in the middle: create ok, check with a wrong version (-103), setData not run (-2)");
        expectError(KeeperException.Code.BADVERSION, () -> zk.multi(Arrays.asList(
                Op.create("/golden/multi-c", bytes("c"), OPEN, CreateMode.PERSISTENT),
                Op.check("/golden/create2", 999),
                Op.setData("/golden", bytes("never"), -1))));
        note("multi (14) failing on the first op: delete /golden/missing (-101)");
        expectError(KeeperException.Code.NONODE, () -> zk.multi(Arrays.asList(
                Op.delete("/golden/missing", -1),
                Op.create("/golden/multi-d", null, OPEN, CreateMode.PERSISTENT))));
        note("multiRead (22): getData /golden, getChildren /golden, getData /golden/missing (-101), getChildren /golden/container");
        zk.multi(Arrays.asList(
                Op.getData("/golden"),
                Op.getChildren("/golden"),
                Op.getData("/golden/missing"),
                Op.getChildren("/golden/container")));

        zk.create("/golden/pw", bytes("p0"), OPEN, CreateMode.PERSISTENT);
        zk.create("/golden/tree", bytes("t0"), OPEN, CreateMode.PERSISTENT);
        note("addWatch (106) PERSISTENT /golden/pw");
        zk.addWatch("/golden/pw", AddWatchMode.PERSISTENT);
        note("addWatch (106) PERSISTENT_RECURSIVE /golden/tree");
        zk.addWatch("/golden/tree", AddWatchMode.PERSISTENT_RECURSIVE);
        note("setData (5) /golden/pw: persistent watch event NodeDataChanged");
        zk.setData("/golden/pw", bytes("p1"), -1);
        ev.awaitNode(EventType.NodeDataChanged, "/golden/pw");
        note("create (1) /golden/tree/a: recursive watch event NodeCreated /golden/tree/a");
        zk.create("/golden/tree/a", bytes("a"), OPEN, CreateMode.PERSISTENT);
        ev.awaitNode(EventType.NodeCreated, "/golden/tree/a");
        note("create (1) /golden/tree/a/b: recursive watch event NodeCreated /golden/tree/a/b");
        zk.create("/golden/tree/a/b", bytes("b"), OPEN, CreateMode.PERSISTENT);
        ev.awaitNode(EventType.NodeCreated, "/golden/tree/a/b");

        note("getData (4) /golden/empty-data with a dedicated watcher");
        Events removable = new Events("removable");
        zk.getData("/golden/empty-data", removable, stat);
        note("removeWatches of one watcher (checkWatches, 17) /golden/empty-data type Data");
        zk.removeWatches("/golden/empty-data", removable, Watcher.WatcherType.Data, false);
        note("getChildren (8) /golden/empty-data with a dedicated watcher");
        zk.getChildren("/golden/empty-data", removable);
        note("removeAllWatches (removeWatches, 18) /golden/empty-data type Any");
        zk.removeAllWatches("/golden/empty-data", Watcher.WatcherType.Any, false);

        note("getConfig: getData (4) /zookeeper/config with watch=true");
        zk.getConfig(true, stat);
        note("reconfig (16) incremental: joining server.5, leaving 4 (reconfig is disabled -> error)");
        try {
            zk.reconfigure("server.5=127.0.0.1:1234:1235:participant;127.0.0.1:1236", "4", null, -1, stat);
            note("reconfig unexpectedly succeeded");
        } catch (KeeperException e) {
            note("reconfig failed as expected: " + e.code() + " (" + e.code().intValue() + ")");
        }
        note("reconfig (16) non-incremental: newMembers server.1 with fromConfig 0x100000000");
        try {
            zk.reconfigure(null, null, "server.1=127.0.0.1:1237:1238:participant;127.0.0.1:1239", 0x100000000L, stat);
            note("reconfig unexpectedly succeeded");
        } catch (KeeperException e) {
            note("reconfig failed as expected: " + e.code() + " (" + e.code().intValue() + ")");
        }

        note("idle 2.5 s: ping (xid -2, type 11) and its reply");
        Thread.sleep(2500);

        note("one-shot watches to carry over the reconnect: exists /golden/later (missing), getData /golden, getChildren /golden/tree");
        zk.exists("/golden/later", true);
        zk.getData("/golden", true, stat);
        zk.getChildren("/golden/tree", true);

        note("proxy drops the connection; the client reconnects with its session id and password, "
                + "re-sends auth (xid -4) and setWatches2 (type 105; the 3.8 client gives it an ordinary xid, not -8)");
        control.send("drop");
        ev.awaitState(KeeperState.Disconnected);
        ev.awaitState(KeeperState.SyncConnected);
        note("reconnected; exists (3) /golden as a round trip");
        zk.exists("/golden", false);
        note("create (1) /golden/later: the carried-over exist watch fires NodeCreated");
        zk.create("/golden/later", null, OPEN, CreateMode.PERSISTENT);
        ev.awaitNode(EventType.NodeCreated, "/golden/later");
        note("setData (5) /golden/pw: the carried-over persistent watch fires NodeDataChanged");
        zk.setData("/golden/pw", bytes("p2"), -1);
        // The one-shot data watch on /golden is still armed; NodeDataChanged /golden/pw comes
        // from the persistent watch.
        ev.awaitNode(EventType.NodeDataChanged, "/golden/pw");
        note("removeAllWatches (18) /golden/pw type Any removes the persistent watch");
        try {
            zk.removeAllWatches("/golden/pw", Watcher.WatcherType.Any, false);
        } catch (KeeperException e) {
            note("removeAllWatches failed: " + e.code() + " (" + e.code().intValue() + ")");
        }

        note("delete (2) /golden/tree/a/b version -1");
        zk.delete("/golden/tree/a/b", -1);
        ev.awaitNode(EventType.NodeDeleted, "/golden/tree/a/b");
        note("delete (2) /golden/ttl with version 0");
        zk.delete("/golden/ttl", 0);
        note("delete (2) /golden/create2 with a wrong version -> error -103 BadVersion");
        expectError(KeeperException.Code.BADVERSION, () -> zk.delete("/golden/create2", 0));
        note("delete (2) /golden (has children) -> error -111 NotEmpty");
        expectError(KeeperException.Code.NOTEMPTY, () -> zk.delete("/golden", -1));
        note("delete (2) /golden/missing -> error -101 NoNode");
        expectError(KeeperException.Code.NONODE, () -> zk.delete("/golden/missing", -1));

        note("close: closeSession (-11) and its reply");
        zk.close();
    }

    /** Only one-shot watches: the reconnect sends the older setWatches (101). */
    static void oneShotWatchSession(String connect) throws Exception {
        note("=== session B: one-shot watches only; reconnect -> setWatches (101); NoAuth ===");
        Events ev = new Events("B");
        ZooKeeper zk = new ZooKeeper(connect, SESSION_TIMEOUT_MS, ev);
        ev.awaitState(KeeperState.SyncConnected);
        Stat stat = new Stat();
        note("create (1) /golden-b");
        zk.create("/golden-b", bytes("b0"), OPEN, CreateMode.PERSISTENT);
        note("getData (4) /golden/locked without auth -> error -102 NoAuth");
        expectError(KeeperException.Code.NOAUTH, () -> zk.getData("/golden/locked", false, stat));
        note("setData (5) /golden/acl (world READ|WRITE after setACL)");
        zk.setData("/golden/acl", bytes("by B"), -1);
        note("delete (2) /golden/acl (the parent /golden grants world ALL)");
        zk.delete("/golden/acl", -1);
        note("watches: exists /golden-b/missing (missing), getData /golden-b, getChildren /golden-b");
        zk.exists("/golden-b/missing", true);
        zk.getData("/golden-b", true, stat);
        zk.getChildren("/golden-b", true);
        note("proxy drops the connection; the client reconnects and sends setWatches (type 101, ordinary xid)");
        control.send("drop");
        ev.awaitState(KeeperState.Disconnected);
        ev.awaitState(KeeperState.SyncConnected);
        note("reconnected; create (1) /golden-b/missing fires NodeCreated and NodeChildrenChanged");
        zk.create("/golden-b/missing", null, OPEN, CreateMode.EPHEMERAL);
        WatchedEvent first = ev.nodes.poll(10, TimeUnit.SECONDS);
        WatchedEvent second = ev.nodes.poll(10, TimeUnit.SECONDS);
        if (first == null || second == null) {
            throw new IllegalStateException("B: missing events " + first + " " + second);
        }
        note("setData (5) /golden-b fires NodeDataChanged");
        zk.setData("/golden-b", bytes("b1"), -1);
        ev.awaitNode(EventType.NodeDataChanged, "/golden-b");
        note("close: closeSession (-11)");
        zk.close();
    }

    /** An auth packet with an unknown scheme: the server answers err -115 and closes. */
    static void authFailureSession(String connect) throws Exception {
        note("=== session C: auth with an unknown scheme -> reply xid -4 err -115 AuthFailed, then the server closes ===");
        Events ev = new Events("C");
        ZooKeeper zk = new ZooKeeper(connect, SESSION_TIMEOUT_MS, ev);
        ev.awaitState(KeeperState.SyncConnected);
        note("auth (xid -4, type 100) scheme nosuchscheme");
        addAuth(zk, "nosuchscheme", "whatever");
        ev.awaitState(KeeperState.AuthFailed);
        zk.close();
    }
}
