// Apache Curator's side of the recipes bench (zk-recipes/benches/recipes.rs): the same
// workloads as the Rust side, measured inside one JVM after a warm-up so that JVM start-up and
// JIT compilation are not counted. Compiled at bench time with javac against /usr/share/java.
//
// Usage: CuratorBench <connect> <root> <pairs> <contended-per-client> <clients> <rounds>
//                     <items> <updates>
//
// Prints, per workload, `RESULT <name> <count> <elapsed ns>` and, where latencies are kept,
// `LAT <name> <ns> <ns> ...`; `DONE` at the end. Exits 1 on any error.
//   mutex1       <pairs> acquire+release pairs of one InterProcessMutex, one client;
//   mutex10      <clients> clients (one CuratorFramework each, one thread each) on one lock,
//                <contended-per-client> pairs each; latency of a pair includes the wait;
//   failover     <rounds> LeaderLatch rounds: the leader's ZooKeeper handle is closed on
//                another thread (its session ends) and the time until the waiting
//                candidate's await() returns is kept, and (as failover-close) the time the
//                close() call took;
//   queue        <items> items through DistributedQueue, one producer client (put not in
//                background) and one consumer client; elapsed until the last is consumed;
//   nodecache    <updates> setData by one client until a NodeCache on another client holds
//                the new value;
//   curatorcache the same with CuratorCache (SINGLE_NODE_CACHE).

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.cache.ChildData;
import org.apache.curator.framework.recipes.cache.CuratorCache;
import org.apache.curator.framework.recipes.cache.CuratorCacheListener;
import org.apache.curator.framework.recipes.cache.NodeCache;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.framework.recipes.queue.DistributedQueue;
import org.apache.curator.framework.recipes.queue.QueueBuilder;
import org.apache.curator.framework.recipes.queue.QueueConsumer;
import org.apache.curator.framework.recipes.queue.QueueSerializer;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.zookeeper.ZooKeeper;

public class CuratorBench {
    static String connect;

    static final QueueSerializer<byte[]> BYTES = new QueueSerializer<byte[]>() {
        public byte[] serialize(byte[] item) {
            return item;
        }

        public byte[] deserialize(byte[] bytes) {
            return bytes;
        }
    };

    public static void main(String[] args) throws Exception {
        connect = args[0];
        String root = args[1];
        int pairs = Integer.parseInt(args[2]);
        int perClient = Integer.parseInt(args[3]);
        int clients = Integer.parseInt(args[4]);
        int rounds = Integer.parseInt(args[5]);
        int items = Integer.parseInt(args[6]);
        int updates = Integer.parseInt(args[7]);
        mutex1(root + "/mutex1", pairs);
        mutex10(root + "/mutex10", clients, perClient);
        failover(root + "/failover", rounds);
        queue(root + "/queue", items);
        cache(root + "/nodecache", updates, false);
        cache(root + "/curatorcache", updates, true);
        System.out.println("DONE");
        System.out.flush();
    }

    static CuratorFramework newClient() throws Exception {
        CuratorFramework client = CuratorFrameworkFactory.newClient(
                connect, 10000, 10000, new ExponentialBackoffRetry(50, 10));
        client.start();
        if (!client.blockUntilConnected(20, TimeUnit.SECONDS)) {
            throw new IllegalStateException("not connected");
        }
        return client;
    }

    static void report(String name, int count, long elapsedNs, long[] latencies) {
        System.out.println("RESULT " + name + " " + count + " " + elapsedNs);
        if (latencies != null) {
            StringBuilder line = new StringBuilder("LAT ").append(name);
            for (long ns : latencies) {
                line.append(' ').append(ns);
            }
            System.out.println(line);
        }
        System.out.flush();
    }

    static int warmup(int n) {
        return Math.max(20, n / 10);
    }

    static void mutex1(String path, int pairs) throws Exception {
        CuratorFramework client = newClient();
        InterProcessMutex mutex = new InterProcessMutex(client, path);
        for (int i = 0; i < warmup(pairs); i++) {
            mutex.acquire();
            mutex.release();
        }
        long[] latencies = new long[pairs];
        long start = System.nanoTime();
        for (int i = 0; i < pairs; i++) {
            long t = System.nanoTime();
            mutex.acquire();
            mutex.release();
            latencies[i] = System.nanoTime() - t;
        }
        long elapsed = System.nanoTime() - start;
        report("mutex1", pairs, elapsed, latencies);
        client.close();
    }

    static void mutex10(String path, int clients, int perClient) throws Exception {
        List<CuratorFramework> all = new ArrayList<>();
        for (int c = 0; c < clients; c++) {
            all.add(newClient());
        }
        // An untimed contended warm-up, then the timed run.
        contend(all, path, Math.max(2, perClient / 10), null);
        long[][] latencies = new long[clients][perClient];
        long elapsed = contend(all, path, perClient, latencies);
        long[] flat = new long[clients * perClient];
        for (int c = 0; c < clients; c++) {
            System.arraycopy(latencies[c], 0, flat, c * perClient, perClient);
        }
        report("mutex10", clients * perClient, elapsed, flat);
        for (CuratorFramework client : all) {
            client.close();
        }
    }

    /// Each client's thread does `perClient` pairs; returns the time from the common start
    /// until the last thread is done.
    static long contend(List<CuratorFramework> all, String path, int perClient, long[][] latencies)
            throws Exception {
        int clients = all.size();
        CyclicBarrier gate = new CyclicBarrier(clients + 1);
        List<Thread> threads = new ArrayList<>();
        List<Throwable> failures = new ArrayList<>();
        for (int c = 0; c < clients; c++) {
            final int index = c;
            final InterProcessMutex mutex = new InterProcessMutex(all.get(c), path);
            Thread thread = new Thread(() -> {
                try {
                    gate.await();
                    for (int i = 0; i < perClient; i++) {
                        long t = System.nanoTime();
                        mutex.acquire();
                        mutex.release();
                        if (latencies != null) {
                            latencies[index][i] = System.nanoTime() - t;
                        }
                    }
                } catch (Throwable e) {
                    synchronized (failures) {
                        failures.add(e);
                    }
                }
            });
            thread.start();
            threads.add(thread);
        }
        gate.await();
        long start = System.nanoTime();
        for (Thread thread : threads) {
            thread.join();
        }
        long elapsed = System.nanoTime() - start;
        if (!failures.isEmpty()) {
            throw new IllegalStateException("contended mutex failed", failures.get(0));
        }
        return elapsed;
    }

    static void failover(String path, int rounds) throws Exception {
        CuratorFramework candidate = newClient();
        long[] latencies = new long[rounds];
        long[] closes = new long[rounds];
        ExecutorService closer = Executors.newSingleThreadExecutor();
        // Round 0 is a warm-up.
        for (int round = -1; round < rounds; round++) {
            String dir = path + "/r" + (round + 1);
            CuratorFramework doomed = newClient();
            LeaderLatch leader = new LeaderLatch(doomed, dir, "a");
            leader.start();
            if (!leader.await(20, TimeUnit.SECONDS)) {
                throw new IllegalStateException("first participant never led");
            }
            LeaderLatch next = new LeaderLatch(candidate, dir, "b");
            next.start();
            long waitUntil = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (next.getParticipants().size() < 2) {
                if (System.nanoTime() > waitUntil) {
                    throw new IllegalStateException("candidate never joined");
                }
                Thread.sleep(2);
            }
            // The session ends the way the Rust side ends it: the leader's ZooKeeper handle
            // sends closeSession and waits for the reply (CuratorFramework.close() would add
            // Curator's own shutdown before that). The close runs on another thread, so the
            // candidate's wait is not held up by it (the Java client's close() takes about
            // 100 ms after the session has ended).
            ZooKeeper handle = doomed.getZookeeperClient().getZooKeeper();
            long t = System.nanoTime();
            Future<Long> closing = closer.submit(() -> {
                handle.close();
                return System.nanoTime() - t;
            });
            if (!next.await(20, TimeUnit.SECONDS)) {
                throw new IllegalStateException("no failover within 20 s");
            }
            long took = System.nanoTime() - t;
            long closed = closing.get(20, TimeUnit.SECONDS);
            if (round >= 0) {
                latencies[round] = took;
                closes[round] = closed;
            }
            next.close();
            doomed.close();
        }
        report("failover", rounds, 0, latencies);
        report("failover-close", rounds, 0, closes);
        closer.shutdown();
        candidate.close();
    }

    static void queue(String path, int items) throws Exception {
        CuratorFramework producerClient = newClient();
        CuratorFramework consumerClient = newClient();
        int warm = warmup(items);
        CountDownLatch consumed = new CountDownLatch(warm + items);
        QueueConsumer<byte[]> consumer = new QueueConsumer<byte[]>() {
            public void consumeMessage(byte[] message) {
                consumed.countDown();
            }

            public void stateChanged(CuratorFramework client, ConnectionState state) {
            }
        };
        DistributedQueue<byte[]> consuming =
                QueueBuilder.builder(consumerClient, consumer, BYTES, path).buildQueue();
        consuming.start();
        DistributedQueue<byte[]> producing = QueueBuilder.builder(producerClient, null, BYTES, path)
                .putInBackground(false)
                .buildQueue();
        producing.start();
        byte[] item = new byte[32];
        for (int i = 0; i < warm; i++) {
            producing.put(item);
        }
        long waitUntil = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (consumed.getCount() > items) {
            if (System.nanoTime() > waitUntil) {
                throw new IllegalStateException("warm-up items not consumed");
            }
            Thread.sleep(1);
        }
        long start = System.nanoTime();
        for (int i = 0; i < items; i++) {
            producing.put(item);
        }
        if (!consumed.await(120, TimeUnit.SECONDS)) {
            throw new IllegalStateException("items not consumed: " + consumed.getCount() + " left");
        }
        long elapsed = System.nanoTime() - start;
        report("queue", items, elapsed, null);
        producing.close();
        consuming.close();
        producerClient.close();
        consumerClient.close();
    }

    static void cache(String path, int updates, boolean curatorCache) throws Exception {
        CuratorFramework writer = newClient();
        CuratorFramework reader = newClient();
        writer.create().creatingParentsIfNeeded().forPath(path, bytes("v0"));
        LinkedBlockingQueue<String> seen = new LinkedBlockingQueue<>();
        AutoCloseable cache;
        if (curatorCache) {
            CuratorCache c = CuratorCache.build(reader, path, CuratorCache.Options.SINGLE_NODE_CACHE);
            CountDownLatch initialized = new CountDownLatch(1);
            c.listenable().addListener(CuratorCacheListener.builder()
                    .forCreates(node -> seen.add(text(node)))
                    .forChanges((before, after) -> seen.add(text(after)))
                    .forInitialized(initialized::countDown)
                    .build());
            c.start();
            if (!initialized.await(20, TimeUnit.SECONDS)) {
                throw new IllegalStateException("CuratorCache never initialized");
            }
            cache = c;
        } else {
            NodeCache c = new NodeCache(reader, path);
            c.getListenable().addListener(() -> {
                ChildData data = c.getCurrentData();
                if (data != null) {
                    seen.add(text(data));
                }
            });
            c.start(true);
            cache = c;
        }
        int warm = warmup(updates);
        long[] latencies = new long[updates];
        for (int i = 1; i <= warm + updates; i++) {
            String value = "v" + i;
            long t = System.nanoTime();
            writer.setData().forPath(path, bytes(value));
            while (true) {
                String got = seen.poll(20, TimeUnit.SECONDS);
                if (got == null) {
                    throw new IllegalStateException("cache never saw " + value);
                }
                if (got.equals(value)) {
                    break;
                }
            }
            if (i > warm) {
                latencies[i - warm - 1] = System.nanoTime() - t;
            }
        }
        report(curatorCache ? "curatorcache" : "nodecache", updates, 0, latencies);
        cache.close();
        writer.close();
        reader.close();
    }

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static String text(ChildData data) {
        return new String(data.getData(), StandardCharsets.UTF_8);
    }
}
