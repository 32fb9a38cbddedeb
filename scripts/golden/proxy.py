#!/usr/bin/env python3
"""Recording TCP proxy for ZooKeeper client connections (Python 3 stdlib only).

Listens on a loopback port, forwards every accepted connection to a real ZooKeeper server, and
splits both directions into frames by their 4-byte big-endian length prefix. Each frame is
appended to the output file as one line:

    C <hex of the frame body, without the length prefix>    (client -> server)
    S <hex of the frame body, without the length prefix>    (server -> client)

Lines starting with '#' are comments. `# conn N ...` starts (or switches back to) connection N:
every frame line belongs to the connection named by the closest `# conn N` line above it. The
first C frame of a connection is its ConnectRequest and the first S frame its ConnectResponse.

Control: a line-based TCP control port on loopback. Each command gets one reply line.
    comment TEXT   append "# TEXT" to the output                      -> ok
    drop           close every proxied connection (both sides)         -> ok N (connections closed)
    conns          number of open proxied connections                  -> ok N
    frames         frames recorded so far                  -> ok CLIENT_FRAMES SERVER_FRAMES
    await-client N wait (up to 10 s) until N client frames have been recorded  -> ok N
                   (lets a client whose call only queues a request, like the Java client's
                   addAuthInfo, keep the following comment after that request's frame)
    quit           stop the proxy                                      -> ok
SIGUSR1 also drops every connection.

On startup the proxy prints one line to stdout, `listen PORT control PORT`, and flushes it.
"""

import argparse
import signal
import socket
import sys
import threading

MAX_FRAME = 0xFFFFF + 1024  # jute.maxbuffer plus slack; anything larger is not a ZK frame


class Recorder:
    """Serialises writes to the fixture file."""

    def __init__(self, path):
        self.lock = threading.Lock()
        self.out = open(path, "a", encoding="ascii")
        self.current_conn = None
        self.counted = threading.Condition(self.lock)
        self.counts = {"C": 0, "S": 0}

    def _write(self, lines, conn_id=None, header=True):
        """Writes lines; with `conn_id`, they belong to that connection (a `# conn N` line is
        inserted first when the previous line belonged to another one, unless the lines name
        their connection themselves)."""
        with self.lock:
            if self.out.closed:
                return
            if conn_id is not None and header and conn_id != self.current_conn:
                self.out.write("# conn %d\n" % conn_id)
            for line in lines:
                self.out.write(line + "\n")
            if conn_id is not None:
                self.current_conn = conn_id
            self.out.flush()

    def comment(self, text):
        self._write([("# " + line).rstrip() for line in text.splitlines() or [""]])

    def conn_event(self, conn_id, text):
        self._write(["# conn %d %s" % (conn_id, text)], conn_id, header=False)

    def frame(self, conn_id, direction, body):
        self._write(["%s %s" % (direction, body.hex())], conn_id)
        with self.counted:
            self.counts[direction] += 1
            self.counted.notify_all()

    def frame_counts(self):
        with self.lock:
            return self.counts["C"], self.counts["S"]

    def await_client_frames(self, n, timeout):
        with self.counted:
            return self.counted.wait_for(lambda: self.counts["C"] >= n, timeout)

    def raw(self, conn_id, direction, data, why):
        line = "# conn %d %s unframed bytes (%s): %s" % (conn_id, direction, why, data.hex())
        self._write([line], conn_id, header=False)

    def close(self):
        with self.lock:
            self.out.close()


class Framer:
    """Accumulates one direction's bytes and records each complete frame."""

    def __init__(self, recorder, conn_id, direction):
        self.recorder = recorder
        self.conn_id = conn_id
        self.direction = direction
        self.buf = bytearray()
        self.broken = False

    def feed(self, data):
        if self.broken:
            self.recorder.raw(self.conn_id, self.direction, data, "after a bad length")
            return
        self.buf += data
        while len(self.buf) >= 4:
            length = int.from_bytes(self.buf[:4], "big", signed=True)
            if length < 0 or length > MAX_FRAME:
                # Not the ZooKeeper framing (e.g. a four-letter word): record the rest verbatim.
                self.broken = True
                self.recorder.raw(self.conn_id, self.direction, bytes(self.buf), "bad length")
                self.buf.clear()
                return
            if len(self.buf) < 4 + length:
                return
            body = bytes(self.buf[4 : 4 + length])
            del self.buf[: 4 + length]
            self.recorder.frame(self.conn_id, self.direction, body)

    def finish(self):
        if self.buf and not self.broken:
            self.recorder.raw(self.conn_id, self.direction, bytes(self.buf), "truncated frame")
            self.buf.clear()


class Proxy:
    def __init__(self, upstream, recorder):
        self.upstream = upstream
        self.recorder = recorder
        self.lock = threading.Lock()
        self.conns = {}  # conn id -> (client socket, server socket)
        self.next_id = 1
        self.dropping = set()

    def accept_loop(self, listener):
        while True:
            try:
                client, peer = listener.accept()
            except OSError:
                return
            threading.Thread(target=self.handle, args=(client, peer), daemon=True).start()

    def handle(self, client, peer):
        try:
            server = socket.create_connection(self.upstream, timeout=10)
            server.settimeout(None)
        except OSError as e:
            self.recorder.comment("proxy: cannot connect upstream: %s" % e)
            client.close()
            return
        for s in (client, server):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.lock:
            conn_id = self.next_id
            self.next_id += 1
            self.conns[conn_id] = (client, server)
        self.recorder.conn_event(conn_id, "opened by %s:%d" % peer[:2])
        closer = {}

        def pump(src, dst, direction, who):
            framer = Framer(self.recorder, conn_id, direction)
            try:
                while True:
                    data = src.recv(65536)
                    if not data:
                        break
                    # Record before forwarding, so a frame is in the file before the peer can
                    # react to it (this keeps comments sent over the control port in order).
                    framer.feed(data)
                    dst.sendall(data)
            except OSError:
                pass
            framer.finish()
            closer.setdefault("by", who)
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

        t = threading.Thread(target=pump, args=(server, client, "S", "server"), daemon=True)
        t.start()
        pump(client, server, "C", "client")
        t.join()
        with self.lock:
            dropped = conn_id in self.dropping
        # Record the end before the connection stops counting as open (see `conns`).
        self.recorder.conn_event(conn_id, "closed by %s" % ("proxy" if dropped else closer["by"]))
        with self.lock:
            del self.conns[conn_id]
            self.dropping.discard(conn_id)
        client.close()
        server.close()

    def drop_all(self):
        with self.lock:
            victims = list(self.conns.items())
            self.dropping.update(cid for cid, _ in victims)
        if victims:
            self.recorder.comment(
                "proxy: dropping connection(s) %s" % ", ".join(str(c) for c, _ in victims)
            )
        for _, socks in victims:
            for s in socks:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        return len(victims)

    def count(self):
        with self.lock:
            return len(self.conns)


def control_loop(listener, proxy, recorder, stop):
    while not stop.is_set():
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        threading.Thread(
            target=control_session, args=(conn, proxy, recorder, stop), daemon=True
        ).start()


def control_session(conn, proxy, recorder, stop):
    with conn, conn.makefile("rw", encoding="utf-8", newline="\n") as f:
        for line in f:
            cmd, _, arg = line.rstrip("\r\n").partition(" ")
            if cmd == "comment":
                recorder.comment(arg)
                reply = "ok"
            elif cmd == "drop":
                reply = "ok %d" % proxy.drop_all()
            elif cmd == "conns":
                reply = "ok %d" % proxy.count()
            elif cmd == "frames":
                reply = "ok %d %d" % recorder.frame_counts()
            elif cmd == "await-client":
                n = int(arg)
                reply = "ok %d" % n if recorder.await_client_frames(n, 10) else "error timeout"
            elif cmd == "quit":
                f.write("ok\n")
                f.flush()
                stop.set()
                return
            else:
                reply = "error unknown command %r" % cmd
            f.write(reply + "\n")
            f.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--upstream", required=True, help="HOST:PORT of the real ZooKeeper")
    ap.add_argument("--out", required=True, help="fixture file to append to")
    ap.add_argument("--listen-port", type=int, default=0)
    ap.add_argument("--control-port", type=int, default=0)
    ap.add_argument("--header", action="append", default=[], help="comment line to write first")
    args = ap.parse_args()

    host, _, port = args.upstream.rpartition(":")
    recorder = Recorder(args.out)
    for line in args.header:
        recorder.comment(line)
    proxy = Proxy((host, int(port)), recorder)

    listener = socket.create_server(("127.0.0.1", args.listen_port))
    control = socket.create_server(("127.0.0.1", args.control_port))
    stop = threading.Event()
    signal.signal(signal.SIGUSR1, lambda *_: proxy.drop_all())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    threading.Thread(target=proxy.accept_loop, args=(listener,), daemon=True).start()
    threading.Thread(
        target=control_loop, args=(control, proxy, recorder, stop), daemon=True
    ).start()
    print(
        "listen %d control %d" % (listener.getsockname()[1], control.getsockname()[1]),
        flush=True,
    )
    try:
        while not stop.wait(0.2):
            pass
    except KeyboardInterrupt:
        pass
    listener.close()
    control.close()
    # Give open connections a moment to finish recording their last frames.
    for _ in range(50):
        if proxy.count() == 0:
            break
        threading.Event().wait(0.05)
    proxy.drop_all()
    for _ in range(50):
        if proxy.count() == 0:
            break
        threading.Event().wait(0.05)
    recorder.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
