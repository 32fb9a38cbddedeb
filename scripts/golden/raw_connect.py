#!/usr/bin/env python3
"""Raw-socket handshakes through scripts/golden/proxy.py (Python 3 stdlib only).

Records ConnectRequests with and without the trailing readOnly byte and the server's answers
(an "old" client without the byte gets a ConnectResponse without it), a session resumption,
a resumption with a wrong password, and closeSession.

Usage: raw_connect.py 127.0.0.1:PROXY_PORT CONTROL_PORT
"""

import socket
import struct
import sys
import time


class Control:
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


def connect_request(session_id=0, passwd=b"\0" * 16, timeout_ms=10000, last_zxid=0,
                    read_only=None):
    """ConnectRequest{protocolVersion, lastZxidSeen, timeOut, sessionId, passwd[, readOnly]}."""
    body = struct.pack(">iqiq", 0, last_zxid, timeout_ms, session_id)
    body += struct.pack(">i", len(passwd)) + passwd
    if read_only is not None:
        body += b"\x01" if read_only else b"\x00"
    return body


def send_frame(sock, body):
    sock.sendall(struct.pack(">i", len(body)) + body)


def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def recv_frame(sock):
    header = recv_exact(sock, 4)
    if header is None:
        return None
    (length,) = struct.unpack(">i", header)
    return recv_exact(sock, length)


def parse_connect_response(body):
    proto, timeout, session_id, plen = struct.unpack_from(">iiqi", body, 0)
    passwd = body[20 : 20 + plen]
    rest = body[20 + plen :]
    return {
        "timeout": timeout,
        "session_id": session_id,
        "passwd": passwd,
        "read_only": None if not rest else rest[0] != 0,
        "length": len(body),
    }


def close_session(sock, xid):
    """closeSession: RequestHeader{xid, -11}, no body; the reply is a bare ReplyHeader."""
    send_frame(sock, struct.pack(">ii", xid, -11))
    reply = recv_frame(sock)
    assert reply is not None and len(reply) == 16, reply
    rxid, _zxid, err = struct.unpack(">iqi", reply)
    assert rxid == xid and err == 0, (rxid, err)


def handshake(addr, request):
    sock = socket.create_connection(addr, timeout=10)
    send_frame(sock, request)
    body = recv_frame(sock)
    assert body is not None, "server closed the connection without a ConnectResponse"
    return sock, parse_connect_response(body)


def main():
    host, _, port = sys.argv[1].rpartition(":")
    addr = (host, int(port))
    ctl = Control(int(sys.argv[2]))

    def note(text):
        ctl.send("comment " + text)

    def closed(sock):
        """Closes our side and waits until the proxy has recorded the connection's end."""
        sock.close()
        for _ in range(200):
            if ctl.send("conns") == "ok 0":
                return
            time.sleep(0.01)
        raise RuntimeError("the proxy still has open connections")

    note("=== raw handshakes ===")
    note("ConnectRequest WITHOUT the readOnly byte (44-byte body, a pre-3.4 client); "
         "the ConnectResponse has no readOnly byte either (36 bytes); then closeSession")
    sock, resp = handshake(addr, connect_request(timeout_ms=10000))
    assert resp["read_only"] is None and resp["length"] == 36, resp
    close_session(sock, 1)
    closed(sock)

    note("ConnectRequest WITH readOnly=true (45 bytes); the ConnectResponse carries "
         "readOnly=false (37 bytes) because the server is read-write")
    sock, resp = handshake(addr, connect_request(timeout_ms=6000, read_only=True))
    assert resp["read_only"] is False and resp["length"] == 37, resp
    session_id, passwd = resp["session_id"], resp["passwd"]
    closed(sock)
    note("client closed that connection without closeSession; the session lives on")

    note("ConnectRequest resuming session 0x%x with its password (readOnly=false); "
         "same session id in the response" % session_id)
    sock, resp = handshake(addr, connect_request(session_id=session_id, passwd=passwd,
                                                 timeout_ms=6000, read_only=False))
    assert resp["session_id"] == session_id, resp
    note("ping (xid -2, type 11) and its bare reply header")
    send_frame(sock, struct.pack(">ii", -2, 11))
    reply = recv_frame(sock)
    assert reply is not None and struct.unpack(">iqi", reply)[0] == -2, reply
    closed(sock)

    note("ConnectRequest resuming session 0x%x with a WRONG password; the server answers "
         "timeOut=0, sessionId=0, zero password and closes" % session_id)
    bad = bytes(b ^ 0xFF for b in passwd)
    sock, resp = handshake(addr, connect_request(session_id=session_id, passwd=bad,
                                                 timeout_ms=6000, read_only=False))
    assert resp["session_id"] == 0 and resp["timeout"] == 0, resp
    assert recv_frame(sock) is None, "expected the server to close"
    closed(sock)

    note("ConnectRequest resuming session 0x%x again (correct password) and closeSession"
         % session_id)
    sock, resp = handshake(addr, connect_request(session_id=session_id, passwd=passwd,
                                                 timeout_ms=6000, read_only=False))
    assert resp["session_id"] == session_id, resp
    close_session(sock, 1)
    closed(sock)

    note("ConnectRequest resuming the now closed session 0x%x; the server answers "
         "timeOut=0, sessionId=0 (expired) and closes" % session_id)
    sock, resp = handshake(addr, connect_request(session_id=session_id, passwd=passwd,
                                                 timeout_ms=6000, read_only=False))
    assert resp["session_id"] == 0 and resp["timeout"] == 0, resp
    closed(sock)

    note("ConnectRequest with lastZxidSeen far ahead of the server (0x7fffffff00000000): "
         "the server closes without a ConnectResponse")
    sock = socket.create_connection(addr, timeout=10)
    send_frame(sock, connect_request(last_zxid=0x7FFFFFFF00000000, read_only=False))
    assert recv_frame(sock) is None, "expected the server to close without replying"
    closed(sock)

    note("raw capture complete")


if __name__ == "__main__":
    main()
