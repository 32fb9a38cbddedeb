#!/usr/bin/env python3
"""Drives kazoo (from $REPO/.venv) through scripts/golden/proxy.py, so the fixture records
kazoo's encoding: empty strings as null (-1), None data as a null buffer, its own xid sequence.

Usage: kazoo_capture.py 127.0.0.1:PROXY_PORT CONTROL_PORT
"""

import logging
import socket
import sys
import threading
import time

from kazoo.client import KazooClient
from kazoo.exceptions import (
    BadVersionError,
    NoNodeError,
    NodeExistsError,
    NotEmptyError,
    ZookeeperError,
)
from kazoo.protocol.states import EventType, KazooState
from kazoo.security import OPEN_ACL_UNSAFE, make_digest_acl


class Control:
    """The proxy's line-based control connection."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.file = self.sock.makefile("rw", encoding="utf-8", newline="\n")

    def send(self, command):
        self.file.write(command + "\n")
        self.file.flush()
        reply = self.file.readline().strip()
        if not reply.startswith("ok"):
            raise RuntimeError("proxy control: %s -> %s" % (command, reply))
        return reply


def expect(exc_type, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except exc_type:
        return
    raise AssertionError("expected %s from %s%r" % (exc_type.__name__, fn.__name__, args))


def main():
    logging.basicConfig(level=logging.WARNING)
    hosts, control_port = sys.argv[1], int(sys.argv[2])
    ctl = Control(control_port)

    def note(text):
        ctl.send("comment " + text)

    note("=== kazoo session ===")
    note("connect: ConnectRequest / ConnectResponse (kazoo timeout 4 s)")
    zk = KazooClient(hosts=hosts, timeout=4.0)
    zk.start(timeout=15)

    note("create (1) /kazoo with value b'' (empty buffer)")
    zk.create("/kazoo", b"")
    note("create (1) /kazoo/none with value None (null buffer)")
    zk.create("/kazoo/none", None)
    note("create (1) /kazoo/a with data")
    zk.create("/kazoo/a", b"alpha")
    note("create (1) ephemeral /kazoo/eph")
    zk.create("/kazoo/eph", b"e", ephemeral=True)
    note("create (1) sequential /kazoo/seq-")
    zk.create("/kazoo/seq-", b"s", sequence=True)
    note("create (1) ephemeral sequential /kazoo/eseq-")
    zk.create("/kazoo/eseq-", b"es", ephemeral=True, sequence=True)
    note("create2 (15) /kazoo/c2 (include_data=True)")
    zk.create("/kazoo/c2", b"c2", include_data=True)
    note("auth (xid -4, type 100) digest kazoo:pw (kazoo writes the credential as a string)")
    zk.add_auth("digest", "kazoo:pw")

    note("create (1) /kazoo/digest with a digest ACL")
    zk.create("/kazoo/digest", b"d", acl=[make_digest_acl("kazoo", "pw", all=True)])
    note("create (1) existing /kazoo -> error -110 NodeExists")
    expect(NodeExistsError, zk.create, "/kazoo", b"x")
    note("ensure_path /kazoo/deep/er/path: exists (3) and create (1) per level")
    zk.ensure_path("/kazoo/deep/er/path")

    note("exists (3) /kazoo/a")
    zk.exists("/kazoo/a")
    note("exists (3) /kazoo/missing -> error -101 NoNode (kazoo returns None)")
    assert zk.exists("/kazoo/missing") is None

    note("getData (4) /kazoo/a")
    zk.get("/kazoo/a")
    note("getData (4) /kazoo/none")
    zk.get("/kazoo/none")
    note("getData (4) /kazoo/missing -> error -101 NoNode")
    expect(NoNodeError, zk.get, "/kazoo/missing")

    fired = threading.Event()

    def on_change(event):
        if event.type == EventType.CHANGED:
            fired.set()

    note("getData (4) /kazoo/a with a watch")
    zk.get("/kazoo/a", watch=on_change)
    note("setData (5) /kazoo/a version -1; the watch fires (xid -1)")
    zk.set("/kazoo/a", b"beta")
    assert fired.wait(10), "no data watch event"
    note("setData (5) /kazoo/a with version 1")
    zk.set("/kazoo/a", b"gamma", version=1)
    note("setData (5) /kazoo/a with value b''")
    zk.set("/kazoo/a", b"")
    note("setData (5) /kazoo/a with a wrong version -> error -103 BadVersion")
    expect(BadVersionError, zk.set, "/kazoo/a", b"x", version=99)

    note("getChildren (8) /kazoo")
    zk.get_children("/kazoo")
    note("getChildren2 (12) /kazoo (include_data=True)")
    zk.get_children("/kazoo", include_data=True)
    note("getChildren (8) /kazoo/missing -> error -101 NoNode")
    expect(NoNodeError, zk.get_children, "/kazoo/missing")

    note("getACL (6) /kazoo/digest")
    zk.get_acls("/kazoo/digest")
    note("setACL (7) /kazoo/a")
    zk.set_acls("/kazoo/a", OPEN_ACL_UNSAFE)

    note("sync (9) /kazoo")
    zk.sync("/kazoo")

    note("multi (14) succeeding: create, setData, check, delete")
    tx = zk.transaction()
    tx.create("/kazoo/tx-a", b"a")
    tx.set_data("/kazoo/tx-a", b"a1")
    tx.check("/kazoo/tx-a", 1)
    tx.delete("/kazoo/none")
    results = tx.commit()
    assert not any(isinstance(r, Exception) for r in results), results
    note("multi (14) failing: create ok, check with a wrong version (-103), setData not run (-2)")
    tx = zk.transaction()
    tx.create("/kazoo/tx-b", b"b")
    tx.check("/kazoo/a", 42)
    tx.set_data("/kazoo", b"never")
    results = tx.commit()
    assert any(isinstance(r, BadVersionError) for r in results), results

    note("reconfig (16) with joining/leaving None (null strings) -> error (reconfig disabled)")
    try:
        zk.reconfig(joining=None, leaving=None, new_members="server.1=127.0.0.1:1:2;3")
        note("reconfig unexpectedly succeeded")
    except ZookeeperError as e:
        note("reconfig failed as expected: %s" % type(e).__name__)

    note("delete (2) /kazoo/a")
    zk.delete("/kazoo/a")
    note("delete (2) /kazoo (not empty) -> error -111 NotEmpty")
    expect(NotEmptyError, zk.delete, "/kazoo")
    note("delete (2) /kazoo/missing -> error -101 NoNode")
    expect(NoNodeError, zk.delete, "/kazoo/missing")

    note("idle 2.5 s: kazoo ping (xid -2, type 11)")
    time.sleep(2.5)

    lost = threading.Event()
    back = threading.Event()

    def listener(state):
        if state == KazooState.SUSPENDED:
            lost.set()
        elif state == KazooState.CONNECTED and lost.is_set():
            back.set()

    zk.add_listener(listener)
    note("proxy drops the connection; kazoo reconnects with its session id and password "
         "and re-sends its auth")
    ctl.send("drop")
    assert lost.wait(10), "kazoo did not notice the drop"
    assert back.wait(20), "kazoo did not reconnect"
    note("reconnected; getData (4) /kazoo")
    zk.get("/kazoo")

    note("close: closeSession (-11)")
    zk.stop()
    zk.close()
    note("kazoo capture complete")


if __name__ == "__main__":
    main()
