#!/usr/bin/env python3
"""Replays every RFC 4475 message as one UDP datagram to a CT-Server and reports what came back.

Run inside a network namespace that has only loopback (the messages name foreign hosts).
Usage: rfc4475_replay.py FIXTURE_DIR SERVER_PORT
Prints one JSON object: {"file": [status codes received], ..., "_alive": true|false}.
"""
import json, os, re, socket, sys, time


def call_id(msg):
    m = re.search(rb"^(?:call-id|i)[ \t]*:[ \t]*(\S+)", msg, re.I | re.M)
    return m.group(1) if m else None

folder, port = sys.argv[1], int(sys.argv[2])
# Most of the messages' Via headers name port 5060 (or none): the server answers to the packet's
# source address at that port, so listen there.
rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
rx.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
rx.bind(("127.0.0.1", 5060))
rx.settimeout(0.25)
result = {}
for name in sorted(os.listdir(folder)):
    if not name.endswith(".dat"):
        continue
    data = open(os.path.join(folder, name), "rb").read()
    rx.sendto(data, ("127.0.0.1", port))
    cid = call_id(data)
    codes = []
    deadline = time.time() + 0.4
    while time.time() < deadline:
        try:
            pkt, _ = rx.recvfrom(65535)
        except socket.timeout:
            break
        first = pkt.split(b"\r\n", 1)[0].split(b" ")
        # Only answers to this message: earlier INVITEs' final responses are retransmitted
        # (timer G) because nobody ACKs them here.
        if cid is None or call_id(pkt) != cid:
            continue
        if len(first) > 1 and first[0] == b"SIP/2.0" and first[1].isdigit():
            code = int(first[1])
            if code != 100:
                codes.append(code)
    result[name[:-4]] = codes
# Still alive? An OPTIONS with rport must be answered.
probe = (b"OPTIONS sip:ping@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKprobe1;rport\r\n"
         b"Max-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag=p\r\nTo: <sip:ping@127.0.0.1>\r\nCall-ID: probe-1\r\n"
         b"CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")
rx.sendto(probe, ("127.0.0.1", port))
alive = False
try:
    rx.settimeout(3)
    while True:
        pkt, _ = rx.recvfrom(65535)
        if b"probe-1" in pkt and pkt.startswith(b"SIP/2.0 200"):
            alive = True
            break
except socket.timeout:
    pass
result["_alive"] = alive
print(json.dumps(result))
