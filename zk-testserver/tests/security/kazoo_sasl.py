#!/usr/bin/env python3
"""kazoo with pure-sasl: SASL DIGEST-MD5 against one ZooKeeper server.

Usage: kazoo_sasl.py HOST:PORT USER PASSWORD

Authenticates, creates a node only USER may read (sasl ACL), reads it, checks that an
anonymous client gets NoAuth and that a wrong password fails the connection. Prints
"kazoo sasl checks passed" at the end; exits non-zero on the first mismatch. Every wait is
bounded.
"""

import sys
import uuid

from kazoo.client import KazooClient
from kazoo.exceptions import NoAuthError
from kazoo.security import make_acl

WAIT = 10.0


def client(hosts, user=None, password=None):
    options = {}
    if user is not None:
        options["sasl_options"] = {
            "mechanism": "DIGEST-MD5",
            "username": user,
            "password": password,
        }
    c = KazooClient(hosts=hosts, timeout=WAIT, connection_retry={"max_tries": 1}, **options)
    return c


def main():
    hosts, user, password = sys.argv[1:4]
    path = "/kazoo-sasl-" + uuid.uuid4().hex
    c = client(hosts, user, password)
    c.start(timeout=WAIT)
    c.create(path, b"secret", acl=[make_acl("sasl", user, all=True)])
    data, _ = c.get(path)
    if data != b"secret":
        raise SystemExit("read back %r" % data)
    anon = client(hosts)
    anon.start(timeout=WAIT)
    try:
        anon.get(path)
        raise SystemExit("an anonymous client read a sasl-protected node")
    except NoAuthError:
        pass
    anon.stop()
    bad = client(hosts, user, password + "-wrong")
    try:
        bad.start(timeout=WAIT)
        bad.get(path)
        raise SystemExit("a wrong password got a session")
    except NoAuthError:
        raise SystemExit("a wrong password got a session (NoAuth on read)")
    except Exception as e:  # AuthFailedError, or a timeout while the session fails
        print("wrong password refused: %s" % type(e).__name__)
    finally:
        bad.stop()
    c.delete(path)
    c.stop()
    print("kazoo sasl checks passed")


if __name__ == "__main__":
    main()
