#!/usr/bin/env python3
"""The client side of tests/scripts/fd-flood.sh, for one netlab server.

  fd-flood.py bad KIND PORT N
      N connections one after another, each sending KIND's bad request and
      reading its answer (at most 2 s); prints the seconds it took.
  fd-flood.py flood KIND PORT PID CONNECTIONS HOLD
      The server's CPU time (utime + stime in /proc/PID/stat, clock ticks) over
      HOLD seconds with one good connection served; then CONNECTIONS opened at
      once, waited on (at most 5 s) until every one has either its refusal
      read or is held open, the CPU time over HOLD seconds more while they are
      held; then all closed, and a good request made (retried every 0.1 s, at
      most 50 times) until served. Prints FIELDS on one line.
Every wait is bounded; nothing here decides a verdict (the .sh does).
"""
import os
import select
import socket
import ssl
import struct
import sys
import time
import zlib

REFUSALS = (b"ERR server busy", b"503 Service Unavailable", b"\x15\x03\x03\x00\x02\x02\x50")


def transport_message(kind, sequence, payload=b""):
    header = b"NLT1" + struct.pack(">HHQQI", kind, 0, sequence, 0, len(payload))
    return header + struct.pack(">I", zlib.crc32(payload, zlib.crc32(header))) + payload


BAD = {
    "framing": b"\xff\xff\xff\xff",  # a length over the 1 MiB cap
    "emfile": b"BOGUS\n",
    "timewait": b"HELLO\n",
    "closewait": b"BOGUS\n",
    "teardown": b"bogus\n",
    "handshake": b"x",  # it reads and discards anything: nothing is bad
    "transport": b"X" * 32,  # bad magic
    "http": b"BAD\r\n\r\n",
    "rpc": b"BAD\r\n\r\n",
    "https": b"GET / HTTP/1.1\r\n\r\n",  # plain text on the TLS port
}

# What a good request sends, and what its answer starts with (None: the
# connection is accepted and not refused, which is all the handshake server says).
GOOD = {
    "framing": (b"\x00\x00\x00\x02hi", b"\x00\x00\x00\x02hi"),
    "emfile": (b"HELLO\n", b"OK "),  # netlab-closewait-server --bug
    "timewait": (b"PING 1\n", b"PONG 1"),
    "closewait": (b"HELLO\n", b"OK "),
    "teardown": (b"normal\n", b""),
    "handshake": (b"x", None),
    "transport": (transport_message(1, 0, b"hi") + transport_message(2, 1, b"1"), b"NLT1"),
    "http": (b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", b"HTTP/1.1 200"),
    "https": (b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", b"HTTP/1.1 200"),
}
_body = b'{"key":"fd","value":1}'
GOOD["rpc"] = (b"POST /rpc/put HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: "
               + str(len(_body)).encode() + b"\r\nConnection: close\r\n\r\n" + _body, b"HTTP/1.1 200")


# What `flood` prints, in this order, on one line (the .sh reads it with `read`).
FIELDS = ("good_before", "refused", "held", "quiet_ticks", "flood_ticks", "hold_ticks", "good_after_attempts")


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)


def connect(port, timeout=2.0):
    return socket.create_connection(("127.0.0.1", port), timeout=timeout)


def bad(kind, port, count):
    start = time.monotonic()
    for _ in range(count):
        with connect(port) as s:
            s.sendall(BAD[kind])
            if kind != "handshake":
                try:
                    s.recv(4096)
                except (socket.timeout, ConnectionResetError):
                    pass
    print(f"{time.monotonic() - start:.2f}")


def good(kind, port):
    """True once KIND's good request is answered as it should be (a refusal,
    a reset or a TLS alert — the server still at its limit — is False)."""
    request, answer = GOOD[kind]
    got = b""
    try:
        # The handshake server answers nothing: 0.3 s of silence is its good answer.
        with connect(port, 0.3 if answer is None else 2.0) as raw:
            s = raw
            if kind == "https":
                context = ssl.create_default_context(cafile=os.environ["NETLAB_CA"])
                s = context.wrap_socket(raw, server_hostname="localhost")
            s.sendall(request)
            # Enough to judge: the answer's start, or 64 bytes (the server may keep the connection open).
            while len(got) < (len(answer) if answer else 64):
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
    except socket.timeout:
        pass
    except OSError:  # reset, refused, a TLS alert (ssl.SSLError)
        return False
    if any(r in got for r in REFUSALS):
        return False
    if answer is None:
        return got == b""  # accepted, said nothing, not refused
    return got.startswith(answer) and (answer != b"" or len(got) > 0)


def held_for(pid, seconds):
    before = cpu_ticks(pid)
    time.sleep(seconds)
    return cpu_ticks(pid) - before


def flood(kind, port, pid, connections, hold):
    result = {}
    # The same server, the same hold, no flood: one good connection served first.
    result["good_before"] = good(kind, port)
    result["quiet_ticks"] = held_for(pid, hold)
    before = cpu_ticks(pid)
    sockets = []
    for _ in range(connections):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        sockets.append(s)
    got = {s: b"" for s in sockets}
    ended = set()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        readable, _, _ = select.select([s for s in sockets if s not in ended], [], [], 0.3)
        if not readable:
            break  # 0.3 s without a refusal: the rest are held (or wait to be accepted)
        for s in readable:
            try:
                chunk = s.recv(4096)
            except (BlockingIOError, ConnectionResetError, ConnectionRefusedError):
                chunk = b""
            got[s] += chunk
            if not chunk:
                ended.add(s)
    result["flood_ticks"] = cpu_ticks(pid) - before
    result["refused"] = sum(1 for s in sockets if any(r in got[s] for r in REFUSALS))
    result["held"] = sum(1 for s in sockets if s not in ended and not got[s])
    result["hold_ticks"] = held_for(pid, hold)
    for s in sockets:
        s.close()
    for attempt in range(1, 51):
        if good(kind, port):
            result["good_after_attempts"] = attempt
            break
        time.sleep(0.1)
    else:
        result["good_after_attempts"] = 0
    print(" ".join(str(result[k]) for k in FIELDS))


def main(argv):
    if argv[1] == "bad":
        bad(argv[2], int(argv[3]), int(argv[4]))
    elif argv[1] == "flood":
        flood(argv[2], int(argv[3]), int(argv[4]), int(argv[5]), float(argv[6]))
    else:
        sys.exit(f"usage: {argv[0]} bad KIND PORT N | flood KIND PORT PID CONNECTIONS HOLD")


if __name__ == "__main__":
    main(sys.argv)
