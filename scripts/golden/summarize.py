#!/usr/bin/env python3
"""Decodes golden-frame fixtures (see zk-proto/tests/fixtures/README.md) far enough to list
which request types, reply errors, multi sub-ops and watch events they contain.

Usage: summarize.py [--require-java | --require-kazoo | --require-raw] FILE...
With a --require-* flag it exits non-zero if an expected op code is missing.
"""

import struct
import sys

OPS = {
    0: "notification", 1: "create", 2: "delete", 3: "exists", 4: "getData", 5: "setData",
    6: "getACL", 7: "setACL", 8: "getChildren", 9: "sync", 11: "ping", 12: "getChildren2",
    13: "check", 14: "multi", 15: "create2", 16: "reconfig", 17: "checkWatches",
    18: "removeWatches", 19: "createContainer", 20: "deleteContainer", 21: "createTTL",
    22: "multiRead", 100: "auth", 101: "setWatches", 102: "sasl", 103: "getEphemerals",
    104: "getAllChildrenNumber", 105: "setWatches2", 106: "addWatch", 107: "whoAmI",
    -10: "createSession", -11: "closeSession", -1: "error",
}

REQUIRED = {
    "java": {1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 14, 15, 16, 17, 18, 19, 21, 22, 100, 101,
             103, 104, 105, 106, 107, -11},
    "kazoo": {1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 14, 15, 16, 100, -11},
    "raw": {11, -11},
}


def read_fixture(path):
    """Yields (conn, direction, body) in file order."""
    conn = None
    with open(path, encoding="ascii") as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if line.startswith("#"):
                words = line[1:].split()
                if len(words) >= 2 and words[0] == "conn" and words[1].isdigit():
                    conn = int(words[1])
                continue
            if not line.strip():
                continue
            direction, _, hexbody = line.partition(" ")
            if direction not in ("C", "S") or conn is None:
                raise ValueError("%s:%d: bad line %r" % (path, lineno, line[:40]))
            yield conn, direction, bytes.fromhex(hexbody)


def read_string(body, off):
    (n,) = struct.unpack_from(">i", body, off)
    off += 4
    if n < 0:
        return None, off
    return body[off : off + n], off + n


def multi_request_ops(body):
    """Op codes inside a multi/multiRead request body (after the RequestHeader)."""
    ops, off = [], 0
    while off + 9 <= len(body):
        typ, done, _err = struct.unpack_from(">ibi", body, off)
        off += 9
        if done:
            break
        ops.append(typ)
        # Skip the record: parse just enough per type.
        _, off = read_string(body, off)  # path
        if typ in (1, 15, 19, 21):
            _, off = read_string(body, off)  # data
            (nacl,) = struct.unpack_from(">i", body, off)
            off += 4
            for _ in range(max(nacl, 0)):
                off += 4
                _, off = read_string(body, off)
                _, off = read_string(body, off)
            off += 4  # flags
            if typ == 21:
                off += 8  # ttl
        elif typ in (2, 13):
            off += 4  # version
        elif typ == 5:
            _, off = read_string(body, off)
            off += 4
        elif typ in (4, 8):
            off += 1  # watch
    return ops


def multi_reply_results(body):
    """(type, err) per result of a multi reply body (after the ReplyHeader)."""
    results, off = [], 0
    while off + 9 <= len(body):
        typ, done, err = struct.unpack_from(">ibi", body, off)
        off += 9
        if done:
            break
        results.append((typ, err))
        if typ == -1:
            off += 4
        elif typ == 1:
            _, off = read_string(body, off)
        elif typ in (15, 19, 21):
            _, off = read_string(body, off)
            off += 68
        elif typ == 5:
            off += 68
        elif typ == 8:
            (n,) = struct.unpack_from(">i", body, off)
            off += 4
            for _ in range(max(n, 0)):
                _, off = read_string(body, off)
        elif typ == 4:
            _, off = read_string(body, off)
            off += 68
    return results


def summarize(path):
    requests = {}  # op -> count
    replies = {}  # (op, err) -> count
    multi_ops = set()
    multi_results = set()
    events = {}
    connects = []
    pending = {}  # conn -> {xid: op}
    seen_connect = set()
    seen_connect_reply = set()
    for conn, direction, body in read_fixture(path):
        if direction == "C":
            if conn not in seen_connect:
                seen_connect.add(conn)
                connects.append(("request", conn, len(body)))
                continue
            xid, op = struct.unpack_from(">ii", body)
            requests[op] = requests.get(op, 0) + 1
            pending.setdefault(conn, {})[xid] = op
            if op in (14, 22):
                multi_ops.update(multi_request_ops(body[8:]))
        else:
            if conn not in seen_connect_reply:
                seen_connect_reply.add(conn)
                connects.append(("response", conn, len(body)))
                continue
            xid, _zxid, err = struct.unpack_from(">iqi", body)
            if xid == -1:
                typ, _state = struct.unpack_from(">ii", body, 16)
                events[typ] = events.get(typ, 0) + 1
                continue
            op = pending.get(conn, {}).pop(xid, None)
            replies[(op, err)] = replies.get((op, err), 0) + 1
            if op in (14, 22) and err == 0:
                multi_results.update(multi_reply_results(body[16:]))
    return requests, replies, multi_ops, multi_results, events, connects


def name(op):
    return "%s(%d)" % (OPS.get(op, "?"), op) if op is not None else "unmatched"


def main(argv):
    require = None
    files = []
    for arg in argv:
        if arg.startswith("--require-"):
            require = arg[len("--require-") :]
        else:
            files.append(arg)
    status = 0
    for path in files:
        requests, replies, multi_ops, multi_results, events, connects = summarize(path)
        print("== %s" % path)
        print("  handshakes: %s" % ", ".join("%s conn %d %dB" % c for c in connects))
        print("  requests:   %s" % ", ".join(
            "%s x%d" % (name(op), n) for op, n in sorted(requests.items())))
        print("  replies:    %s" % ", ".join(
            "%s err %d x%d" % (name(op), err, n)
            for (op, err), n in sorted(replies.items(), key=lambda kv: (kv[0][0] or 0, kv[0][1]))))
        print("  multi ops:  %s" % ", ".join(name(op) for op in sorted(multi_ops)))
        print("  multi results (type, err): %s" % sorted(multi_results))
        print("  watch events (type x count): %s" % sorted(events.items()))
        if require:
            missing = REQUIRED[require] - set(requests)
            if missing:
                print("  MISSING: %s" % ", ".join(name(op) for op in sorted(missing)))
                status = 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
