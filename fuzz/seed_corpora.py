#!/usr/bin/env python3
"""Seeds fuzz/corpus/<target>/ from the golden fixtures (zk-proto/tests/fixtures/*.txt).

Each frame goes to the corpus of the decoder that reads it: ConnectRequest and ConnectResponse
bodies to `connect`, later client frames to `request`, later server frames to `response`,
multi and multiRead bodies (without their header) to `multi`, and every frame with its length
prefix (and each fixture's whole stream) to `frame`. Files are named by content hash, so
re-running is harmless.

Usage: python3 fuzz/seed_corpora.py
"""

import hashlib
import pathlib
import struct

FUZZ = pathlib.Path(__file__).resolve().parent
FIXTURES = FUZZ.parent / "zk-proto" / "tests" / "fixtures"
MULTI_OPS = (14, 22)


def frames(path):
    """Yields (conn, direction, body) in file order."""
    conn = None
    for line in path.read_text(encoding="ascii").splitlines():
        if line.startswith("#"):
            words = line[1:].split()
            if len(words) >= 2 and words[0] == "conn" and words[1].isdigit():
                conn = int(words[1])
            continue
        if line.strip():
            direction, _, hexbody = line.partition(" ")
            yield conn, direction, bytes.fromhex(hexbody)


def save(target, data):
    folder = FUZZ / "corpus" / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / hashlib.sha1(data).hexdigest()).write_bytes(data)


def main():
    counts = {}
    for path in sorted(FIXTURES.glob("*.txt")):
        connected, answered, pending, stream = set(), set(), {}, bytearray()
        for conn, direction, body in frames(path):
            framed = struct.pack(">i", len(body)) + body
            stream += framed
            targets = ["frame"]
            if direction == "C" and conn not in connected:
                connected.add(conn)
                targets.append("connect")
            elif direction == "S" and conn not in answered:
                answered.add(conn)
                targets.append("connect")
            elif direction == "C":
                targets.append("request")
                xid, op = struct.unpack_from(">ii", body)
                pending[(conn, xid)] = op
                if op in MULTI_OPS:
                    save("multi", body[8:])
            else:
                targets.append("response")
                (xid,) = struct.unpack_from(">i", body)
                if pending.get((conn, xid)) in MULTI_OPS:
                    save("multi", body[16:])
            save(targets[0], b"\x00" + framed)  # frame's first byte is its control byte
            for target in targets[1:]:
                save(target, body)
                counts[target] = counts.get(target, 0) + 1
        save("frame", b"\x07" + bytes(stream))
    print("seeded from %s: %s" % (FIXTURES, counts))


if __name__ == "__main__":
    main()
