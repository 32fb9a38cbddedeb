// Apache Curator workers for the mixed-fleet tests (zk-recipes/tests/locks/curator.rs).
// Compiled at test time with javac against /usr/share/java; one process per worker.
//
// Usage: CuratorWorker <mode> <connect> <path> <id> <count>
//   mutex: <count> times: InterProcessMutex on <path>/lock, then inside the lock create the
//          ephemeral <path>/inside (NodeExists = two holders at once: prints OVERLAP), read the
//          decimal counter <path>/counter, write it + 1, delete <path>/inside, release.
//   latch: <count> terms: LeaderLatch on <path>/latch with id <id>; once leader, create the
//          ephemeral <path>/leader (NodeExists = two leaders: prints OVERLAP), print LEAD,
//          hold it briefly, delete it and close the latch.
//   count: <count> increments of SharedCount <path>/count by compare-and-set.
// Prints READY once connected and DONE <id> at the end; exits 1 on any error.

import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.framework.recipes.shared.SharedCount;
import org.apache.curator.framework.recipes.shared.VersionedValue;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;

public class CuratorWorker {
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
                case "mutex": mutex(client, path, id, count); break;
                case "latch": latch(client, path, id, count); break;
                case "count": count(client, path, count); break;
                default: throw new IllegalArgumentException(mode);
            }
        } finally {
            client.close();
        }
        System.out.println("DONE " + id);
        System.out.flush();
    }

    static void mutex(CuratorFramework client, String path, String id, int count) throws Exception {
        InterProcessMutex mutex = new InterProcessMutex(client, path + "/lock");
        for (int i = 0; i < count; i++) {
            mutex.acquire();
            try {
                try {
                    client.create().withMode(CreateMode.EPHEMERAL)
                            .forPath(path + "/inside", id.getBytes(StandardCharsets.UTF_8));
                } catch (KeeperException.NodeExistsException e) {
                    System.out.println("OVERLAP " + id);
                }
                byte[] data = client.getData().forPath(path + "/counter");
                int value = Integer.parseInt(new String(data, StandardCharsets.UTF_8));
                client.setData().forPath(path + "/counter",
                        Integer.toString(value + 1).getBytes(StandardCharsets.UTF_8));
                client.delete().forPath(path + "/inside");
            } finally {
                mutex.release();
            }
        }
    }

    static void latch(CuratorFramework client, String path, String id, int terms) throws Exception {
        for (int term = 0; term < terms; term++) {
            LeaderLatch latch = new LeaderLatch(client, path + "/latch", id);
            latch.start();
            latch.await();
            try {
                client.create().withMode(CreateMode.EPHEMERAL)
                        .forPath(path + "/leader", id.getBytes(StandardCharsets.UTF_8));
            } catch (KeeperException.NodeExistsException e) {
                System.out.println("OVERLAP " + id);
            }
            System.out.println("LEAD " + id);
            System.out.flush();
            Thread.sleep(30);
            client.delete().forPath(path + "/leader");
            latch.close();
        }
    }

    static void count(CuratorFramework client, String path, int increments) throws Exception {
        SharedCount shared = new SharedCount(client, path + "/count", 0);
        shared.start();
        for (int i = 0; i < increments; i++) {
            while (true) {
                VersionedValue<Integer> current = shared.getVersionedValue();
                if (shared.trySetCount(current, current.getValue() + 1)) {
                    break;
                }
            }
        }
        shared.close();
    }
}
