// The official Java client's side of the clients bench (zk-client/benches/clients.rs): the same
// workloads as the Rust clients, on the same server, measured inside one JVM after an untimed
// warm-up (1 s of sequential getData/setData, 0.5 s each of pipelined get, set and create) so
// that JVM start-up and most JIT compilation are not counted. Compiled at bench time
// with javac against Debian's ZooKeeper jars in /usr/share/java.
//
// Usage: JavaClientBench <connect> <node> <create-parent> <seq-ops> <pipelined-ms> <depths>
//                        <workloads> <tag>
//   <node> holds 1 KiB of data; <depths> is a comma list (64,1024); <workloads> a comma list
//   of seq-get, seq-set, get, set, create; <tag> makes this run's create names unique.
//
// Prints, per workload, `RESULT <workload> <depth> <ops> <elapsed ns> <cpu ns>` and for the
// sequential ones `LAT <workload> <ns> <ns> ...`; `DONE` at the end; exits 1 on any error.
// CPU is the JVM process's on-CPU time over the timed part, summed over every thread of the
// process (the client's send and event threads, GC and JIT included) from
// /proc/self/task/*/schedstat in nanoseconds, as the Rust side counts its client threads
// (OperatingSystemMXBean's process CPU time ticks in 10 ms steps here, too coarse).
//   seq-get / seq-set  getData / setData (1 KiB) one at a time, <seq-ops> ops after <seq-ops>/10
//                      warm-up ops; latency of each;
//   get / set / create asynchronous getData / setData (1 KiB) / create (64 B, persistent,
//                      deleted afterwards, untimed) with <depth> requests in flight (a
//                      semaphore of <depth> permits, released in the callback) for
//                      <pipelined-ms>, then drained.

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.zookeeper.AsyncCallback;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;

public class JavaClientBench {
    static final int PAYLOAD = 1024;
    static final int CREATE_PAYLOAD = 64;

    static ZooKeeper zk;
    static String node;
    static String createParent;
    static String tag;
    static final byte[] DATA = new byte[PAYLOAD];
    static final byte[] SMALL = new byte[CREATE_PAYLOAD];
    static final AtomicReference<String> FAILURE = new AtomicReference<>();

    /// On-CPU nanoseconds of every live thread of this JVM.
    static long cpuNanos() throws java.io.IOException {
        long total = 0;
        try (java.nio.file.DirectoryStream<java.nio.file.Path> tasks =
                java.nio.file.Files.newDirectoryStream(java.nio.file.Paths.get("/proc/self/task"))) {
            for (java.nio.file.Path task : tasks) {
                try {
                    String stat = new String(java.nio.file.Files.readAllBytes(task.resolve("schedstat")));
                    total += Long.parseLong(stat.substring(0, stat.indexOf(' ')));
                } catch (java.io.IOException | RuntimeException gone) {
                    // The thread ended between the listing and the read.
                }
            }
        }
        return total;
    }

    public static void main(String[] args) throws Exception {
        String connect = args[0];
        node = args[1];
        createParent = args[2];
        int seqOps = Integer.parseInt(args[3]);
        long pipelinedMs = Long.parseLong(args[4]);
        String[] depths = args[5].split(",");
        String[] workloads = args[6].split(",");
        tag = args[7];
        java.util.Arrays.fill(DATA, (byte) 'x');
        java.util.Arrays.fill(SMALL, (byte) 'y');

        CountDownLatch connected = new CountDownLatch(1);
        zk = new ZooKeeper(connect, 30000, event -> {
            if (event.getState() == Watcher.Event.KeeperState.SyncConnected) {
                connected.countDown();
            }
        });
        if (!connected.await(30, TimeUnit.SECONDS)) {
            throw new IllegalStateException("no connection to " + connect);
        }

        // Warm-up (untimed, about 2.5 s): let the JIT compile the request paths.
        long until = System.nanoTime() + 1_000_000_000L;
        while (System.nanoTime() < until) {
            zk.getData(node, false, null);
            zk.setData(node, DATA, -1);
        }
        pipelined("get", 64, 500, false);
        pipelined("set", 64, 500, false);
        pipelined("create", 64, 500, false);

        for (String workload : workloads) {
            if (workload.startsWith("seq-")) {
                sequential(workload, seqOps);
            } else {
                for (String depth : depths) {
                    pipelined(workload, Integer.parseInt(depth.trim()), pipelinedMs, true);
                }
            }
        }
        zk.close();
        System.out.println("DONE");
        System.out.flush();
    }

    static void sequential(String workload, int ops) throws Exception {
        boolean get = workload.equals("seq-get");
        for (int i = 0; i < ops / 10; i++) {
            if (get) {
                zk.getData(node, false, null);
            } else {
                zk.setData(node, DATA, -1);
            }
        }
        long[] lat = new long[ops];
        long cpu = cpuNanos();
        long start = System.nanoTime();
        for (int i = 0; i < ops; i++) {
            long t = System.nanoTime();
            if (get) {
                byte[] data = zk.getData(node, false, null);
                if (data.length != PAYLOAD) {
                    throw new IllegalStateException("getData returned " + data.length + " bytes");
                }
            } else {
                zk.setData(node, DATA, -1);
            }
            lat[i] = System.nanoTime() - t;
        }
        long elapsed = System.nanoTime() - start;
        long cpuNs = cpuNanos() - cpu;
        System.out.println("RESULT " + workload + " 1 " + ops + " " + elapsed + " " + cpuNs);
        StringBuilder sb = new StringBuilder("LAT ").append(workload);
        for (long l : lat) {
            sb.append(' ').append(l);
        }
        System.out.println(sb);
    }

    static void check(int rc, String what) {
        if (rc != KeeperException.Code.OK.intValue()) {
            FAILURE.compareAndSet(null, what + ": " + KeeperException.Code.get(rc));
        }
    }

    /// Keeps `depth` requests in flight for `ms`, then drains; prints a RESULT when `report`.
    static void pipelined(String workload, int depth, long ms, boolean report) throws Exception {
        Semaphore permits = new Semaphore(depth);
        AtomicLong done = new AtomicLong();
        List<String> created = new ArrayList<>();
        AsyncCallback.DataCallback onGet = (rc, path, ctx, data, stat) -> {
            check(rc, "getData");
            if (data != null && data.length != PAYLOAD) {
                FAILURE.compareAndSet(null, "getData returned " + data.length + " bytes");
            }
            done.incrementAndGet();
            permits.release();
        };
        AsyncCallback.StatCallback onSet = (rc, path, ctx, stat) -> {
            check(rc, "setData");
            done.incrementAndGet();
            permits.release();
        };
        AsyncCallback.StringCallback onCreate = (rc, path, ctx, name) -> {
            check(rc, "create");
            done.incrementAndGet();
            permits.release();
        };
        long cpu = cpuNanos();
        long start = System.nanoTime();
        long deadline = start + ms * 1_000_000L;
        long issued = 0;
        while (System.nanoTime() < deadline) {
            // Check the clock every 32 requests, as the Rust side does.
            for (int i = 0; i < 32; i++) {
                permits.acquire();
                switch (workload) {
                    case "get":
                        zk.getData(node, false, onGet, null);
                        break;
                    case "set":
                        zk.setData(node, DATA, -1, onSet, null);
                        break;
                    case "create": {
                        String name = createParent + "/j" + tag + "-" + issued;
                        created.add(name);
                        zk.create(name, SMALL, ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT,
                                onCreate, null);
                        break;
                    }
                    default:
                        throw new IllegalArgumentException("unknown workload " + workload);
                }
                issued++;
            }
        }
        permits.acquire(depth);
        long elapsed = System.nanoTime() - start;
        long cpuNs = cpuNanos() - cpu;
        permits.release(depth);
        if (FAILURE.get() != null) {
            throw new IllegalStateException(FAILURE.get());
        }
        if (report) {
            System.out.println("RESULT " + workload + " " + depth + " " + done.get() + " " + elapsed
                    + " " + cpuNs);
        }
        // Cleanup, untimed.
        AsyncCallback.VoidCallback onDelete = (rc, path, ctx) -> {
            check(rc, "delete");
            permits.release();
        };
        for (String name : created) {
            permits.acquire();
            zk.delete(name, -1, onDelete, null);
        }
        permits.acquire(depth);
        permits.release(depth);
        if (FAILURE.get() != null) {
            throw new IllegalStateException(FAILURE.get());
        }
    }
}
