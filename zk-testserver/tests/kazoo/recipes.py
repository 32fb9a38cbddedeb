#!/usr/bin/env python3
"""Exercises kazoo's API and recipes against one ZooKeeper server.

Usage: recipes.py HOST:PORT

Run with the repository's venv (`.venv/bin/python`, made by scripts/install-deps.sh). The
same script runs against zk-testserver and real Apache ZooKeeper; both must pass. Every
check prints what it expected and what it got, and the script exits non-zero on the first
mismatch. Every wait is bounded (WAIT seconds), so a missing event fails instead of hanging.
"""

import sys
import threading
import time
import traceback
import uuid

from kazoo.client import KazooClient
from kazoo.exceptions import (
    BadVersionError,
    NodeExistsError,
    NoNodeError,
    NotEmptyError,
    RolledBackError,
    RuntimeInconsistency,
)
from kazoo.protocol.states import EventType

WAIT = 10.0


class Mismatch(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Mismatch(what)


def check_eq(got, want, what):
    if got != want:
        raise Mismatch("%s: expected %r, got %r" % (what, want, got))


def wait_for(event, what, timeout=WAIT):
    if not event.wait(timeout):
        raise Mismatch("timed out after %.0fs waiting for %s" % (timeout, what))


def wait_until(pred, what, timeout=WAIT):
    deadline = time.monotonic() + timeout
    while not pred():
        left = deadline - time.monotonic()
        if left <= 0:
            raise Mismatch("timed out after %.0fs waiting for %s" % (timeout, what))
        # Polls server-side state that no callback reports (e.g. another client's queued
        # lock node); short and bounded by the deadline.
        time.sleep(min(left, 0.02))


class Recorder(object):
    """Collects callback values and lets a test await the n-th one."""

    def __init__(self):
        self.values = []
        self.cond = threading.Condition()

    def add(self, value):
        with self.cond:
            self.values.append(value)
            self.cond.notify_all()

    def wait_count(self, n, what):
        with self.cond:
            ok = self.cond.wait_for(lambda: len(self.values) >= n, WAIT)
        if not ok:
            raise Mismatch("%s: expected %d callbacks, got %r" % (what, n, self.values))
        return self.values[n - 1]


def client(hosts):
    zk = KazooClient(hosts=hosts, timeout=10.0)
    zk.start(timeout=WAIT)
    return zk


def test_crud(zk, root):
    path = root + "/crud"
    check_eq(zk.create(path, b"v1"), path, "create returns the path")
    data, stat = zk.get(path)
    check_eq(data, b"v1", "get data")
    check_eq(stat.version, 0, "initial version")
    check_eq(stat.dataLength, 2, "dataLength")
    stat = zk.set(path, b"v2", version=0)
    check_eq(stat.version, 1, "version after set")
    try:
        zk.set(path, b"v3", version=0)
        raise Mismatch("set with a stale version succeeded")
    except BadVersionError:
        pass
    try:
        zk.create(path, b"again")
        raise Mismatch("duplicate create succeeded")
    except NodeExistsError:
        pass
    check(zk.exists(root + "/missing") is None, "exists of a missing node is None")
    try:
        zk.get(root + "/missing")
        raise Mismatch("get of a missing node succeeded")
    except NoNodeError:
        pass
    seq1 = zk.create(path + "/s-", b"", sequence=True)
    seq2 = zk.create(path + "/s-", b"", sequence=True)
    check_eq(seq1, path + "/s-0000000000", "first sequential name")
    check_eq(seq2, path + "/s-0000000001", "second sequential name")
    check_eq(sorted(zk.get_children(path)), ["s-0000000000", "s-0000000001"], "children")
    children, stat = zk.get_children(path, include_data=True)
    check_eq(stat.numChildren, 2, "numChildren")
    try:
        zk.delete(path)
        raise Mismatch("deleting a node with children succeeded")
    except NotEmptyError:
        pass
    zk.ensure_path(root + "/a/b/c")
    check(zk.exists(root + "/a/b/c") is not None, "ensure_path creates parents")
    created, stat = zk.create(root + "/with-stat", b"xyz", include_data=True)
    check_eq(created, root + "/with-stat", "create2 path")
    check_eq(stat.dataLength, 3, "create2 stat")
    zk.delete(path, recursive=True)
    check(zk.exists(path) is None, "recursive delete")
    acl = zk.get_acls(root)[0]
    check_eq(len(acl), 1, "one ACL entry on an open node")


def test_transactions(zk, root):
    path = root + "/txn"
    zk.create(path, b"")
    t = zk.transaction()
    t.create(path + "/a", b"1")
    t.create(path + "/b", b"2")
    t.set_data(path, b"parent", version=0)
    t.check(path + "/a", 0)
    results = t.commit()
    check_eq(results[:2], [path + "/a", path + "/b"], "txn create results")
    check_eq(results[2].version, 1, "txn setData stat")
    check_eq(results[3], True, "txn check result")
    # A failing transaction: nothing applies; ops before the failing one are rolled back,
    # the failing op names its error, and ops after it get RuntimeInconsistency (as real
    # ZooKeeper answers).
    t = zk.transaction()
    t.create(path + "/c", b"3")
    t.check(path + "/a", 5)
    t.delete(path + "/b")
    results = t.commit()
    check_eq(len(results), 3, "failed txn result count")
    check(isinstance(results[0], RolledBackError), "op before the failure rolled back: %r" % (results,))
    check(isinstance(results[1], BadVersionError), "failing op reports BadVersion: %r" % (results,))
    check(isinstance(results[2], RuntimeInconsistency), "op after the failure: %r" % (results,))
    check(zk.exists(path + "/c") is None, "failed txn created nothing")
    check(zk.exists(path + "/b") is not None, "failed txn deleted nothing")


def test_watches(zk, other, root):
    path = root + "/watched"
    data_seen = Recorder()

    @zk.DataWatch(path)
    def on_data(data, stat, event=None):
        data_seen.add((data, event.type if event else None))

    check_eq(data_seen.wait_count(1, "DataWatch initial call"), (None, None), "DataWatch on a missing node")
    other.create(path, b"one")
    check_eq(data_seen.wait_count(2, "DataWatch on create"), (b"one", EventType.CREATED), "DataWatch create")
    other.set(path, b"two")
    check_eq(data_seen.wait_count(3, "DataWatch on set"), (b"two", EventType.CHANGED), "DataWatch change")

    children_seen = Recorder()

    @zk.ChildrenWatch(path)
    def on_children(children):
        children_seen.add(sorted(children))

    check_eq(children_seen.wait_count(1, "ChildrenWatch initial call"), [], "ChildrenWatch initial")
    other.create(path + "/k1", b"")
    check_eq(children_seen.wait_count(2, "ChildrenWatch on create"), ["k1"], "ChildrenWatch add")
    other.create(path + "/k2", b"")
    check_eq(children_seen.wait_count(3, "ChildrenWatch on second create"), ["k1", "k2"], "ChildrenWatch add 2")
    other.delete(path + "/k1")
    check_eq(children_seen.wait_count(4, "ChildrenWatch on delete"), ["k2"], "ChildrenWatch delete")

    # A plain one-shot watch through the low-level API.
    fired = threading.Event()
    events = []

    def watcher(event):
        events.append(event)
        fired.set()

    zk.exists(path + "/k2", watch=watcher)
    other.delete(path + "/k2")
    wait_for(fired, "an exists watch on delete")
    check_eq(events[0].type, EventType.DELETED, "one-shot watch type")
    check_eq(events[0].path, path + "/k2", "one-shot watch path")

    other.delete(path)
    check_eq(data_seen.wait_count(4, "DataWatch on delete"), (None, EventType.DELETED), "DataWatch delete")


def test_ephemeral_cleanup(hosts, zk, root):
    path = root + "/eph"
    gone = threading.Event()
    temp = client(hosts)
    temp.create(path, b"mine", ephemeral=True)
    stat = zk.exists(path, watch=lambda e: gone.set() if e.type == EventType.DELETED else None)
    check(stat is not None, "ephemeral visible to another session")
    check_eq(stat.ephemeralOwner, temp.client_id[0], "ephemeralOwner is the session id")
    try:
        temp.create(path + "/child", b"")
        raise Mismatch("a child of an ephemeral node was created")
    except Exception as e:  # NoChildrenForEphemeralsError
        check(type(e).__name__ == "NoChildrenForEphemeralsError", "child of ephemeral: %r" % (e,))
    temp.stop()
    temp.close()
    wait_for(gone, "the ephemeral node's deletion after close")
    check(zk.exists(path) is None, "ephemeral gone after the session closed")


def test_lock(hosts, zk, root):
    path = root + "/lock"
    other = client(hosts)
    try:
        a = zk.Lock(path, "alice")
        b = other.Lock(path, "bob")
        check(a.acquire(timeout=WAIT), "alice acquires the free lock")
        check(not b.acquire(blocking=False), "bob cannot take a held lock")
        order = []
        b_got = threading.Event()

        def contend():
            if b.acquire(timeout=WAIT):
                order.append("bob")
                b_got.set()

        t = threading.Thread(target=contend)
        t.start()
        wait_until(lambda: len(a.contenders()) == 2, "bob to queue for the lock")
        check_eq(a.contenders(), ["alice", "bob"], "lock contenders in order")
        check(not b_got.is_set(), "bob got the lock while alice held it")
        order.append("alice")
        a.release()
        wait_for(b_got, "bob to get the lock after alice released it")
        t.join(WAIT)
        check_eq(order, ["alice", "bob"], "lock order")
        b.release()
        check_eq(a.contenders(), [], "no contenders after release")
        # A lock held by a session goes with the session.
        check(b.acquire(timeout=WAIT), "bob acquires again")
        other.stop()
        check(a.acquire(timeout=WAIT), "alice gets the lock after bob's session ends")
        a.release()
    finally:
        other.stop()
        other.close()


def test_election(hosts, zk, root):
    path = root + "/election"
    other = client(hosts)
    try:
        leaders = Recorder()
        release = {"alice": threading.Event(), "bob": threading.Event()}

        def lead(name):
            leaders.add(name)
            release[name].wait(WAIT)

        e1 = zk.Election(path, "alice")
        e2 = other.Election(path, "bob")
        t1 = threading.Thread(target=e1.run, args=(lead, "alice"))
        t1.start()
        check_eq(leaders.wait_count(1, "a first leader"), "alice", "first leader")
        t2 = threading.Thread(target=e2.run, args=(lead, "bob"))
        t2.start()
        wait_until(lambda: len(e1.contenders()) == 2, "bob to join the election")
        check_eq(e1.contenders(), ["alice", "bob"], "election contenders")
        release["alice"].set()
        t1.join(WAIT)
        check_eq(leaders.wait_count(2, "a second leader"), "bob", "leader after alice")
        release["bob"].set()
        t2.join(WAIT)
        check(not t1.is_alive() and not t2.is_alive(), "election threads end")
    finally:
        other.stop()
        other.close()


def test_barriers(hosts, zk, root):
    path = root + "/barrier"
    barrier = zk.Barrier(path)
    barrier.create()
    check(zk.exists(path) is not None, "barrier node created")
    check(not barrier.wait(0.05), "a raised barrier does not let through")
    passed = threading.Event()

    def waiter():
        if barrier.wait(WAIT):
            passed.set()

    t = threading.Thread(target=waiter)
    t.start()
    check(not passed.is_set(), "through the barrier before removal")
    other = client(hosts)
    try:
        check(other.Barrier(path).remove(), "barrier removed")
        wait_for(passed, "the waiter to pass the removed barrier")
        t.join(WAIT)

        # DoubleBarrier for two: the first to enter waits for the second.
        dpath = root + "/double"
        d1 = zk.DoubleBarrier(dpath, 2)
        d2 = other.DoubleBarrier(dpath, 2)
        entered = threading.Event()
        left = threading.Event()

        def first():
            d1.enter()
            entered.set()
            d1.leave()
            left.set()

        t = threading.Thread(target=first)
        t.start()
        wait_until(lambda: zk.exists(dpath) is not None and len(zk.get_children(dpath)) >= 1,
                   "the first participant to enter")
        check(not entered.is_set(), "entered a double barrier alone")
        d2.enter()
        wait_for(entered, "both to be inside the double barrier")
        check(not left.is_set(), "left the double barrier alone")
        d2.leave()
        wait_for(left, "both to leave the double barrier")
        t.join(WAIT)
    finally:
        other.stop()
        other.close()


def test_counter(hosts, zk, root):
    path = root + "/counter"
    c = zk.Counter(path)
    check_eq(c.value, 0, "fresh counter")
    c += 1
    c += 5
    c -= 2
    check_eq(c.value, 4, "counter after updates")
    other = client(hosts)
    try:
        workers = []
        for client_ in (zk, other):
            for _ in range(2):
                def bump(cl=client_):
                    counter = cl.Counter(path)
                    for _ in range(10):
                        counter += 1
                workers.append(threading.Thread(target=bump))
        for w in workers:
            w.start()
        for w in workers:
            w.join(WAIT)
        check_eq(zk.Counter(path).value, 44, "counter after concurrent increments")
        fc = zk.Counter(root + "/fcounter", default=0.5)
        fc += 1.25
        check_eq(fc.value, 1.75, "float counter")
    finally:
        other.stop()
        other.close()


def test_queues(hosts, zk, root):
    q = zk.Queue(root + "/queue")
    for item in (b"a", b"b", b"c"):
        q.put(item)
    q.put(b"urgent", priority=1)
    check_eq(len(q), 4, "queue length")
    check_eq([q.get() for _ in range(4)], [b"urgent", b"a", b"b", b"c"], "queue order")
    check(q.get() is None, "empty queue gives None")

    path = root + "/lqueue"
    lq = zk.LockingQueue(path)
    lq.put_all([b"x", b"y"])
    lq.put(b"first", priority=5)
    check_eq(len(lq), 3, "locking queue length")
    check_eq(lq.get(WAIT), b"first", "locking queue head")
    check(lq.holds_lock(), "holds the item's lock")
    other = client(hosts)
    try:
        lq2 = other.LockingQueue(path)
        check_eq(lq2.get(WAIT), b"x", "another consumer skips the locked item")
        check(lq.consume(), "consume the first item")
        check(lq2.release(), "release x back to the queue")
        check_eq(lq.get(WAIT), b"x", "released item comes back")
        check(lq.consume(), "consume x")
        check_eq(lq.get(WAIT), b"y", "last item")
        check(lq.consume(), "consume y")
        check_eq(len(lq), 0, "locking queue drained")
        # A get on an empty queue waits for a put.
        got = []
        done = threading.Event()

        def consumer():
            got.append(lq2.get(WAIT))
            done.set()

        t = threading.Thread(target=consumer)
        t.start()
        lq.put(b"late")
        wait_for(done, "a waiting consumer to get a late item")
        t.join(WAIT)
        check_eq(got, [b"late"], "late item")
        check(lq2.consume(), "consume the late item")
    finally:
        other.stop()
        other.close()


def test_party(hosts, zk, root):
    path = root + "/party"
    other = client(hosts)
    try:
        p1 = zk.Party(path, "alice")
        p2 = other.Party(path, "bob")
        p1.join()
        p2.join()
        check_eq(len(p1), 2, "party size")
        check_eq(sorted(p1), ["alice", "bob"], "party members")
        p2.leave()
        check_eq(sorted(p1), ["alice"], "party after a leave")
        s1 = zk.ShallowParty(path + "-shallow", "carol")
        s1.join()
        check_eq(list(other.ShallowParty(path + "-shallow")), ["carol"], "shallow party")
        s1.leave()
        p2.join()
        other.stop()
        wait_until(lambda: sorted(p1) == ["alice"], "bob to leave with his session")
        p1.leave()
        check_eq(len(p1), 0, "empty party")
    finally:
        other.stop()
        other.close()


def test_semaphore(hosts, zk, root):
    path = root + "/semaphore"
    others = [client(hosts), client(hosts)]
    try:
        s1 = zk.Semaphore(path, "one", max_leases=2)
        s2 = others[0].Semaphore(path, "two", max_leases=2)
        s3 = others[1].Semaphore(path, "three", max_leases=2)
        check(s1.acquire(timeout=WAIT), "first lease")
        check(s2.acquire(timeout=WAIT), "second lease")
        check_eq(sorted(s1.lease_holders()), ["one", "two"], "lease holders")
        check(not s3.acquire(blocking=False), "a third lease past max_leases")
        got = threading.Event()

        def third():
            if s3.acquire(timeout=WAIT):
                got.set()

        t = threading.Thread(target=third)
        t.start()
        check(not got.is_set(), "third lease while full")
        s1.release()
        wait_for(got, "the third lease after a release")
        t.join(WAIT)
        check_eq(sorted(s1.lease_holders()), ["three", "two"], "lease holders after hand-over")
        s2.release()
        s3.release()
        check_eq(s1.lease_holders(), [], "no lease holders")
    finally:
        for o in others:
            o.stop()
            o.close()


def main():
    if len(sys.argv) != 2:
        print("usage: recipes.py HOST:PORT", file=sys.stderr)
        return 2
    hosts = sys.argv[1]
    root = "/kazoo-" + uuid.uuid4().hex[:8]
    name = "connect"
    zk = client(hosts)
    other = client(hosts)
    steps = [
        ("crud", lambda: test_crud(zk, root)),
        ("transactions", lambda: test_transactions(zk, root)),
        ("watches", lambda: test_watches(zk, other, root)),
        ("ephemeral cleanup", lambda: test_ephemeral_cleanup(hosts, zk, root)),
        ("lock", lambda: test_lock(hosts, zk, root)),
        ("election", lambda: test_election(hosts, zk, root)),
        ("barriers", lambda: test_barriers(hosts, zk, root)),
        ("counter", lambda: test_counter(hosts, zk, root)),
        ("queues", lambda: test_queues(hosts, zk, root)),
        ("party", lambda: test_party(hosts, zk, root)),
        ("semaphore", lambda: test_semaphore(hosts, zk, root)),
    ]
    name = "setup"
    try:
        zk.create(root, b"")
        for name, step in steps:
            started = time.monotonic()
            step()
            print("ok   %-18s %.3fs" % (name, time.monotonic() - started))
        zk.delete(root, recursive=True)
    except Mismatch as e:
        print("FAIL %s: %s" % (name, e), file=sys.stderr)
        return 1
    except Exception:
        print("FAIL %s: unexpected error" % (name,), file=sys.stderr)
        traceback.print_exc()
        return 1
    finally:
        for c in (zk, other):
            c.stop()
            c.close()
    print("all %d kazoo checks passed against %s" % (len(steps), hosts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
