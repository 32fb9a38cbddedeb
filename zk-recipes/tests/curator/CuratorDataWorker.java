// Apache Curator workers for the data recipes' mixed-fleet tests
// (zk-recipes/tests/data/curator.rs). Compiled at test time with javac against
// /usr/share/java; one process per worker.
//
// Usage: CuratorDataWorker <mode> <connect> <path> <id> <count>
//   put:      DistributedQueue on <path>: put the <count> strings "<id>-<i>", flush.
//   take:     DistributedQueue on <path>: consume until <count> items were taken, printing
//             "ITEM <item>" for each (or stop 3 s after the last one; 30 s if none comes).
//   atomic:   <count> increments of DistributedAtomicLong <path>, each retried until it
//             succeeds.
//   dbarrier: DistributedDoubleBarrier on <path> for <count> members: enter, print ENTERED,
//             leave, print LEFT.
// Prints READY once connected and DONE <id> at the end; exits 1 on any error.

import java.nio.charset.StandardCharsets;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.atomic.AtomicValue;
import org.apache.curator.framework.recipes.atomic.DistributedAtomicLong;
import org.apache.curator.framework.recipes.barriers.DistributedDoubleBarrier;
import org.apache.curator.framework.recipes.queue.DistributedQueue;
import org.apache.curator.framework.recipes.queue.QueueBuilder;
import org.apache.curator.framework.recipes.queue.QueueConsumer;
import org.apache.curator.framework.recipes.queue.QueueSerializer;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.curator.retry.RetryNTimes;

public class CuratorDataWorker {
    static final QueueSerializer<String> STRINGS = new QueueSerializer<String>() {
        public byte[] serialize(String item) {
            return item.getBytes(StandardCharsets.UTF_8);
        }

        public String deserialize(byte[] bytes) {
            return new String(bytes, StandardCharsets.UTF_8);
        }
    };

    public static void main(String[] args) throws Exception {
        String mode = args[0];
        String connect = args[1];
        String path = args[2];
        String id = args[3];
        int count = Integer.parseInt(args[4]);
        CuratorFramework client = CuratorFrameworkFactory.newClient(
                connect, 10000, 10000, new ExponentialBackoffRetry(50, 10));
        client.start();
        if (!client.blockUntilConnected(20, TimeUnit.SECONDS)) {
            throw new IllegalStateException("not connected");
        }
        System.out.println("READY " + id);
        System.out.flush();
        try {
            switch (mode) {
                case "put": put(client, path, id, count); break;
                case "take": take(client, path, count); break;
                case "atomic": atomic(client, path, count); break;
                case "dbarrier": dbarrier(client, path, count); break;
                default: throw new IllegalArgumentException(mode);
            }
        } finally {
            client.close();
        }
        System.out.println("DONE " + id);
        System.out.flush();
    }

    static void put(CuratorFramework client, String path, String id, int count) throws Exception {
        DistributedQueue<String> queue =
                QueueBuilder.builder(client, null, STRINGS, path).buildQueue();
        queue.start();
        for (int i = 0; i < count; i++) {
            queue.put(id + "-" + i);
        }
        if (!queue.flushPuts(20, TimeUnit.SECONDS)) {
            throw new IllegalStateException("puts not flushed");
        }
        queue.close();
    }

    static void take(CuratorFramework client, String path, int count) throws Exception {
        CountDownLatch done = new CountDownLatch(count);
        AtomicLong last = new AtomicLong(System.nanoTime());
        QueueConsumer<String> consumer = new QueueConsumer<String>() {
            public void consumeMessage(String message) {
                synchronized (System.out) {
                    System.out.println("ITEM " + message);
                    System.out.flush();
                }
                last.set(System.nanoTime());
                done.countDown();
            }

            public void stateChanged(CuratorFramework c, ConnectionState s) {}
        };
        DistributedQueue<String> queue =
                QueueBuilder.builder(client, consumer, STRINGS, path).buildQueue();
        queue.start();
        long started = System.nanoTime();
        while (!done.await(200, TimeUnit.MILLISECONDS)) {
            boolean some = done.getCount() < count;
            long idle = System.nanoTime() - (some ? last.get() : started);
            if (idle > TimeUnit.SECONDS.toNanos(some ? 3 : 30)) {
                break;
            }
        }
        queue.close();
    }

    static void atomic(CuratorFramework client, String path, int count) throws Exception {
        DistributedAtomicLong value = new DistributedAtomicLong(client, path, new RetryNTimes(1000, 1));
        for (int i = 0; i < count; i++) {
            AtomicValue<Long> result = value.increment();
            while (!result.succeeded()) {
                result = value.increment();
            }
        }
    }

    static void dbarrier(CuratorFramework client, String path, int members) throws Exception {
        DistributedDoubleBarrier barrier = new DistributedDoubleBarrier(client, path, members);
        if (!barrier.enter(30, TimeUnit.SECONDS)) {
            throw new IllegalStateException("enter timed out");
        }
        System.out.println("ENTERED");
        System.out.flush();
        if (!barrier.leave(30, TimeUnit.SECONDS)) {
            throw new IllegalStateException("leave timed out");
        }
        System.out.println("LEFT");
        System.out.flush();
    }
}
