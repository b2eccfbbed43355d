#!/usr/bin/env python3
"""notify-listen.py ADDRESS LOG - a stand-in for systemd's notify socket.

Binds a datagram socket at ADDRESS (a path, or "@name" for an abstract
socket, as $NOTIFY_SOCKET spells it), and appends every message received to
LOG, one datagram per line with newlines shown as ";".  Ends after
STOPPING=1 or 60 s."""
import socket
import sys
import time

addr, log = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + addr[1:] if addr.startswith("@") else addr)
s.settimeout(0.5)
with open(log, "a") as out:
    out.write("listening\n")
    out.flush()
    end = time.time() + 60
    while time.time() < end:
        try:
            msg = s.recv(4096).decode()
        except socket.timeout:
            continue
        out.write(msg.replace("\n", ";") + "\n")
        out.flush()
        if "STOPPING=1" in msg.split("\n"):
            break
