"""A small WebSocket client and decoder of heaplab serve's frames, on the standard library
only (tests/cli/test_serve.py, scripts/serve-measure.py).

Client: the RFC 6455 handshake, masked text frames out, frames in (pings answered).
Decoder: the binary frames of docs/serve.md: a 16-byte header, kind maps raw, delta (runs
of 2-bit cells against the last map of the lane) or fill (runs of one kind), and run-length
overlay maps.
"""
import base64
import hashlib
import json
import os
import socket
import struct
import time

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class Closed(Exception):
    pass


def http(port, method, path, body=None, headers=None, timeout=30):
    """One HTTP request with raw sockets: (status, headers dict, body bytes)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    for k, v in (headers or {}).items():
        lines.append(f"{k}: {v}")
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    req = ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")
    s.sendall(req)
    return read_response(s)


def read_response(s):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    n = int(hdrs.get("content-length", -1))
    while n < 0 or len(rest) < n:
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        rest += chunk
    s.close()
    return status, hdrs, rest if n < 0 else rest[:n]


class WebSocket:
    def __init__(self, port, path="/ws", timeout=30, headers=None, rcvbuf=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16))
        lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Upgrade: websocket",
                 "Connection: Upgrade", f"Sec-WebSocket-Key: {key.decode()}",
                 "Sec-WebSocket-Version: 13"]
        for k, v in (headers or {}).items():
            lines.append(f"{k}: {v}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise Closed("closed during the handshake")
            data += chunk
        head, _, self.buf = data.partition(b"\r\n\r\n")
        status = head.split(b"\r\n")[0]
        if b" 101 " not in status:
            raise Closed(status.decode("latin-1"))
        want = base64.b64encode(hashlib.sha1(key + GUID).digest())
        if want not in head:
            raise Closed("bad Sec-WebSocket-Accept")
        self.bytes_in = 0

    def send_frame(self, opcode, payload):
        mask = os.urandom(4)
        n = len(payload)
        if n < 126:
            hdr = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
        elif n < 65536:
            hdr = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            hdr = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
        masked = bytes(b ^ mask[i & 3] for i, b in enumerate(payload))
        self.sock.sendall(hdr + mask + masked)

    def send(self, obj):
        self.send_frame(1, json.dumps(obj).encode() if not isinstance(obj, (bytes, str))
                        else (obj.encode() if isinstance(obj, str) else obj))

    def _need(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise Closed("connection closed")
            self.buf += chunk

    def recv(self):
        """The next data message: (opcode, payload); pings are answered."""
        while True:
            self._need(2)
            b0, b1 = self.buf[0], self.buf[1]
            n, off = b1 & 127, 2
            if n == 126:
                self._need(4)
                n, off = struct.unpack("!H", self.buf[2:4])[0], 4
            elif n == 127:
                self._need(10)
                n, off = struct.unpack("!Q", self.buf[2:10])[0], 10
            self._need(off + n)
            payload, self.buf = self.buf[off:off + n], self.buf[off + n:]
            self.bytes_in += off + n
            op = b0 & 15
            if op == 9:
                self.send_frame(10, payload)
                continue
            if op == 8:
                raise Closed("close frame")
            return op, payload

    def close(self):
        try:
            self.send_frame(8, b"")
        except OSError:
            pass
        self.sock.close()


# --- Frames ----------------------------------------------------------------------------

def varint(buf, pos):
    v, shift = 0, 0
    while True:
        b = buf[pos]
        pos += 1
        v |= (b & 127) << shift
        if not b & 128:
            return v, pos
        shift += 7


def header(payload):
    magic, version, ftype, lane, enc, res, tick, cells = struct.unpack("<HBBBBHII", payload[:16])
    assert magic == 0x4C48 and version == 1 and res == 0, "bad frame header"
    return ftype, lane, enc, tick, cells


def apply_delta(packed, cells, d):
    """Apply delta runs to a bytearray of packed 2-bit cells."""
    pos, p = 0, 0
    while p < len(d):
        skip, p = varint(d, p)
        count, p = varint(d, p)
        pos += skip
        assert pos + count <= cells, "run past the map"
        nbytes = (count + 3) // 4
        run = d[p:p + nbytes]
        start = 0
        if pos & 3 == 0:  # aligned: whole bytes are copies
            start = count & ~3
            packed[pos >> 2:(pos >> 2) + (count >> 2)] = run[:count >> 2]
        for j in range(start, count):
            v = (run[j >> 2] >> ((j & 3) * 2)) & 3
            i = pos + j
            packed[i >> 2] = (packed[i >> 2] & ~(3 << ((i & 3) * 2))) | (v << ((i & 3) * 2))
        p += nbytes
        pos += count


def apply_fill(packed, cells, d):
    """Apply fill runs (runs of one kind) to a bytearray of packed 2-bit cells."""
    pos, p = 0, 0
    while p < len(d):
        skip, p = varint(d, p)
        x, p = varint(d, p)
        pos += skip
        count, v = x >> 2, x & 3
        assert pos + count <= cells, "run past the map"
        end = pos + count
        while pos < end and pos & 3:
            packed[pos >> 2] = (packed[pos >> 2] & ~(3 << ((pos & 3) * 2))) | (v << ((pos & 3) * 2))
            pos += 1
        whole = (end - pos) >> 2
        if whole:
            packed[pos >> 2:(pos >> 2) + whole] = bytes([v * 0x55]) * whole
            pos += whole * 4
        while pos < end:
            packed[pos >> 2] = (packed[pos >> 2] & ~(3 << ((pos & 3) * 2))) | (v << ((pos & 3) * 2))
            pos += 1


def rle_decode(d, cells):
    out, p = bytearray(), 0
    while p < len(d):
        count, p = varint(d, p)
        out += bytes([d[p]]) * count
        p += 1
    assert len(out) == cells
    return out


class Maps:
    """The page's view: the last kind map (packed) and overlay map of every lane."""

    def __init__(self):
        self.kind = {}
        self.overlay = {}
        self.bytes = {0: 0, 1: 0, 2: 0, 3: 0}  # frame bytes by encoding
        self.frames = {0: 0, 1: 0, 2: 0, 3: 0}

    def feed(self, payload):
        ftype, lane, enc, tick, cells = header(payload)
        body = payload[16:]
        self.bytes[enc] += len(payload)
        self.frames[enc] += 1
        if ftype == 1:
            if enc == 0:
                assert len(body) == (cells + 3) // 4, "raw map of the wrong length"
                self.kind[lane] = bytearray(body)
            else:
                assert lane in self.kind, "a delta before any raw map"
                assert enc in (1, 3), "unknown encoding"
                (apply_delta if enc == 1 else apply_fill)(self.kind[lane], cells, body)
        else:
            self.overlay[lane] = rle_decode(body, cells)
        return ftype, lane, enc, tick, cells


def wait_for(ws, pred, timeout=60, maps=None, log=None):
    """Read until pred(msg) for a JSON message: returns it. Binary frames go to `maps`."""
    end = time.time() + timeout
    while time.time() < end:
        op, payload = ws.recv()
        if op == 2:
            if maps is not None:
                maps.feed(payload)
            continue
        msg = json.loads(payload)
        if log is not None:
            log.append(msg)
        if pred(msg):
            return msg
    raise TimeoutError("no such message")
