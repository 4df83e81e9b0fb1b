#!/usr/bin/env python3
"""Host-side peer of the pcnet test guest (tests/guests/pcnet.c), standard library only.

Runs inside the test's own network namespace (tests/guests/pcnet.sh) on the guest's TAP with an
AF_PACKET socket for ethertype 0x88b5:
  1. receives the guest's --tx data frames ('D') and checks each byte for byte, in order;
  2. on the guest's ready frame ('R', seq = frames it sent) sends --rx data frames ('P') to the
     guest's MAC, never more than --window beyond what the guest has acknowledged ('A' frames,
     seq = frames it has received), so the guest's 16-entry RX ring cannot overflow.
The frame format and the generator are specified in tests/guests/lib/pcnet_frame.h; the
functions below mirror it name for name. Prints "PEER ..." information, then one line per check
("PASS pcnet.peer.rx" / "FAIL pcnet.peer.rx: reason", the same for pcnet.peer.tx), and exits 1
on any mismatch, loss or time-out. Bounded by the frame counts and --timeout.
"""
import argparse
import signal
import socket
import sys
import time

PF_ETHERTYPE = 0x88B5
PF_HDR_LEN = 24
PF_MIN_LEN = 60
PF_MAX_LEN = 1514
PF_POOL_SIZE = 65536
PF_POOL_SEED = 0x2545F491
KIND_GUEST_DATA = ord("D")
KIND_PEER_DATA = ord("P")
KIND_READY = ord("R")
KIND_ACK = ord("A")
M32 = 0xFFFFFFFF
PACKET_OUTGOING = 4
SO_RCVBUFFORCE = 33
SO_SNDBUFFORCE = 32
BROADCAST = b"\xff" * 6


def pf_fmix32(h):
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & M32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & M32
    h ^= h >> 16
    return h


def pf_hash(kind, seq):
    return pf_fmix32((seq ^ (kind << 24)) & M32)


def pf_length(kind, seq):
    return PF_MIN_LEN + pf_hash(kind, seq) % (PF_MAX_LEN - PF_MIN_LEN + 1)


def pf_offset(kind, seq):
    return pf_fmix32(pf_hash(kind, seq)) % PF_POOL_SIZE


def pf_pool_fill():
    x = PF_POOL_SEED
    out = bytearray()
    while len(out) < PF_POOL_SIZE + PF_MAX_LEN:
        x ^= (x << 13) & M32
        x ^= x >> 17
        x ^= (x << 5) & M32
        out += x.to_bytes(4, "little")
    return bytes(out[: PF_POOL_SIZE + PF_MAX_LEN])


def pf_header(dst, src, kind, seq, length):
    return (dst + src + PF_ETHERTYPE.to_bytes(2, "big") + b"HVP" + bytes([kind])
            + seq.to_bytes(4, "big") + length.to_bytes(2, "big"))


def data_frame(pool, dst, src, kind, seq):
    length = pf_length(kind, seq)
    off = pf_offset(kind, seq)
    return pf_header(dst, src, kind, seq, length) + pool[off:off + length - PF_HDR_LEN]


def parse_mac(s):
    b = bytes(int(x, 16) for x in s.split(":"))
    if len(b) != 6:
        raise ValueError(s)
    return b


def mac_str(b):
    return ":".join("%02x" % x for x in b)


def first_difference(a, b):
    for i in range(min(len(a), len(b))):
        if a[i] != b[i]:
            return i
    return min(len(a), len(b))


class Peer:
    def __init__(self, args, sock, pool):
        self.a = args
        self.sock = sock
        self.pool = pool
        self.guest_mac = parse_mac(args.guest_mac)
        self.my_mac = sock.getsockname()[4][:6]
        # guest -> peer
        self.rx_next = 0
        self.rx_good = 0
        self.rx_bytes = 0
        self.rx_bad = 0
        self.rx_first_bad = None
        self.rx_t0 = self.rx_t1 = None
        self.ready = None  # the N of the guest's ready frame
        # peer -> guest
        self.tx_sent = 0
        self.tx_bytes = 0
        self.acked = 0
        self.acks = 0
        self.tx_t0 = self.tx_t1 = None
        self.last_ack_time = None
        self.other = 0

    def bad(self, why):
        self.rx_bad += 1
        if self.rx_first_bad is None:
            self.rx_first_bad = why

    def on_guest_data(self, f):
        seq = int.from_bytes(f[18:22], "big")
        now = time.monotonic()
        if self.rx_t0 is None:
            self.rx_t0 = now
        self.rx_t1 = now
        expected = self.rx_next
        self.rx_next = seq + 1
        if seq != expected:
            self.bad("frame %d carries seq %d (%d lost or reordered)" % (expected, seq,
                                                                        seq - expected))
            return
        want = data_frame(self.pool, BROADCAST, self.guest_mac, KIND_GUEST_DATA, seq)
        if f == want:
            self.rx_good += 1
            self.rx_bytes += len(f)
            return
        d = first_difference(f, want)
        if d < min(len(f), len(want)):
            self.bad("seq %d: %d bytes, byte %d is 0x%02x, want 0x%02x"
                     % (seq, len(f), d, f[d], want[d]))
        else:
            self.bad("seq %d: %d bytes, want %d" % (seq, len(f), len(want)))

    def on_frame(self, f):
        if len(f) < PF_HDR_LEN or f[14:17] != b"HVP":
            self.other += 1
            return
        kind = f[17]
        seq = int.from_bytes(f[18:22], "big")
        if kind == KIND_GUEST_DATA:
            self.on_guest_data(f)
        elif kind == KIND_READY:
            if self.ready is None:
                self.ready = seq
                self.tx_t0 = time.monotonic()
                self.last_ack_time = self.tx_t0
        elif kind == KIND_ACK:
            self.acks += 1
            self.last_ack_time = time.monotonic()
            if seq > self.acked:
                self.acked = min(seq, self.tx_sent)
                if self.acked >= self.a.rx and self.tx_t1 is None:
                    self.tx_t1 = self.last_ack_time
        else:
            self.other += 1

    def send_window(self):
        while self.tx_sent < self.a.rx and self.tx_sent < self.acked + self.a.window:
            f = data_frame(self.pool, self.guest_mac, self.my_mac, KIND_PEER_DATA, self.tx_sent)
            self.sock.send(f)
            self.tx_sent += 1
            self.tx_bytes += len(f)

    def done(self):
        return self.ready is not None and self.acked >= self.a.rx

    def stalled(self, now):
        """The guest stopped acknowledging: frames were lost on the way in."""
        return (self.ready is not None and self.tx_sent > self.acked
                and now - self.last_ack_time > self.a.stall)

    def run(self):
        deadline = time.monotonic() + self.a.timeout
        self.sock.settimeout(0.2)
        while not self.done():
            now = time.monotonic()
            if now > deadline or self.stalled(now):
                return False
            if self.ready is not None:
                self.send_window()
            try:
                f, addr = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            if addr[2] != PACKET_OUTGOING:
                self.on_frame(f)
        return True


class Stopped(Exception):
    """SIGTERM from the test script: the VM is gone; report what came."""


def on_sigterm(signum, frame):
    raise Stopped()


def rate(n, t0, t1):
    if t0 is None or t1 is None or t1 <= t0:
        return "-"
    return "%.0f" % (n / (t1 - t0))


def report(p, in_time):
    a = p.a
    rx_s = (p.rx_t1 - p.rx_t0) if p.rx_t0 is not None else 0.0
    tx_s = ((p.tx_t1 or time.monotonic()) - p.tx_t0) if p.tx_t0 is not None else 0.0
    print("PEER guest->peer: %d/%d frames good, %d bad, %d bytes in %.3f s: %s frames/s"
          % (p.rx_good, a.tx, p.rx_bad, p.rx_bytes, rx_s, rate(max(p.rx_good - 1, 0), p.rx_t0,
                                                               p.rx_t1)))
    print("PEER peer->guest: %d/%d frames sent, %d acknowledged (%d acks), %d bytes in %.3f s: "
          "%s frames/s" % (p.tx_sent, a.rx, p.acked, p.acks, p.tx_bytes, tx_s,
                           rate(p.acked, p.tx_t0, p.tx_t1)))
    if p.other:
        print("PEER %d other frames of ethertype 0x88b5 ignored" % p.other)
    ok = True
    if p.rx_good == a.tx and p.rx_bad == 0 and p.ready == a.tx:
        print("PASS pcnet.peer.rx")
    else:
        ok = False
        why = " (first: %s)" % p.rx_first_bad if p.rx_first_bad else ""
        print("FAIL pcnet.peer.rx: %d of %d guest frames good, %d bad%s; ready frame %s"
              % (p.rx_good, a.tx, p.rx_bad, why,
                 "never came" if p.ready is None else "says %d" % p.ready))
    if in_time and p.acked >= a.rx:
        print("PASS pcnet.peer.tx")
    else:
        ok = False
        print("FAIL pcnet.peer.tx: the guest acknowledged %d of %d frames (%d sent)%s"
              % (p.acked, a.rx, p.tx_sent, "" if in_time else "; gave up (stopped, time-out or stall)"))
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ifname", required=True)
    ap.add_argument("--guest-mac", required=True, help="the MAC the guest sends from")
    ap.add_argument("--tx", type=int, default=10000, help="frames the guest sends")
    ap.add_argument("--rx", type=int, default=10000, help="frames this peer sends")
    ap.add_argument("--window", type=int, default=14, help="unacknowledged frames at most")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds for everything")
    ap.add_argument("--stall", type=float, default=10.0,
                    help="give up after this many seconds without an acknowledgement")
    a = ap.parse_args()

    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(PF_ETHERTYPE))
    # The guest is not flow-controlled: room for all of its frames, whatever our pace.
    sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 256 << 20)
    sock.setsockopt(socket.SOL_SOCKET, SO_SNDBUFFORCE, 4 << 20)
    sock.bind((a.ifname, PF_ETHERTYPE))
    pool = pf_pool_fill()
    p = Peer(a, sock, pool)
    print("PEER ready on %s (%s), guest %s, tx %d rx %d window %d"
          % (a.ifname, mac_str(p.my_mac), a.guest_mac, a.tx, a.rx, a.window), flush=True)
    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        in_time = p.run()
    except Stopped:
        print("PEER stopped by SIGTERM")
        in_time = False
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    ok = report(p, in_time)
    sys.stdout.flush()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
