"""Just enough of the D-Bus wire protocol (stdlib only) for a stand-in
that owns org.lockc.Manager and sends DeniedBatch signals.

lockcd cannot produce denials on a host without the BPF LSM, so the tests
of `lockcctl monitor`'s output use this stand-in: it answers
SubscribeDenials and UnsubscribeDenials as the API documents and emits
DeniedBatch with the documented signature (a(sssssuusit)) to one
subscriber, as lockcd does for a subscriber that asked for batches (as
lockcctl monitor does). Only little-endian messages, only the types used
here.
"""

import os
import socket
import struct
import threading
import time

METHOD_CALL, METHOD_RETURN, ERROR, SIGNAL = 1, 2, 3, 4
FIELD_PATH, FIELD_INTERFACE, FIELD_MEMBER, FIELD_ERROR_NAME = 1, 2, 3, 4
FIELD_REPLY_SERIAL, FIELD_DESTINATION, FIELD_SENDER, FIELD_SIGNATURE = 5, 6, 7, 8
NO_REPLY_EXPECTED = 0x1


class Writer:
    def __init__(self):
        self.data = bytearray()

    def align(self, n):
        self.data += b"\0" * (-len(self.data) % n)

    def byte(self, value):
        self.data += struct.pack("<B", value)

    def uint32(self, value):
        self.align(4)
        self.data += struct.pack("<I", value)

    def int32(self, value):
        self.align(4)
        self.data += struct.pack("<i", value)

    def uint64(self, value):
        self.align(8)
        self.data += struct.pack("<Q", value)

    def string(self, value):
        encoded = value.encode("utf-8")
        self.uint32(len(encoded))
        self.data += encoded + b"\0"

    def signature(self, value):
        encoded = value.encode("ascii")
        self.byte(len(encoded))
        self.data += encoded + b"\0"

    def body(self, signature, values):
        for code, value in zip(signature, values):
            {"s": self.string, "o": self.string, "g": self.signature, "u": self.uint32,
             "i": self.int32, "t": self.uint64, "y": self.byte}[code](value)

    def struct_array(self, signature, rows):
        """a(SIGNATURE): the length counts from the first struct, which is
        aligned to 8 after it (that padding is not counted)."""
        self.uint32(0)
        length_at = len(self.data) - 4
        self.align(8)
        start = len(self.data)
        for row in rows:
            self.align(8)
            self.body(signature, row)
        struct.pack_into("<I", self.data, length_at, len(self.data) - start)


class Reader:
    def __init__(self, data):
        self.data = data
        self.pos = 0

    def align(self, n):
        self.pos += -self.pos % n

    def byte(self):
        value = self.data[self.pos]
        self.pos += 1
        return value

    def uint32(self):
        self.align(4)
        (value,) = struct.unpack_from("<I", self.data, self.pos)
        self.pos += 4
        return value

    def string(self):
        length = self.uint32()
        value = self.data[self.pos:self.pos + length].decode("utf-8")
        self.pos += length + 1
        return value

    def signature(self):
        length = self.byte()
        value = self.data[self.pos:self.pos + length].decode("ascii")
        self.pos += length + 1
        return value


def encode_message(kind, serial, fields, signature="", values=(), flags=0):
    body = Writer()
    if signature.startswith("a("):
        body.struct_array(signature[2:-1], values)
    else:
        body.body(signature, values)
    if signature:
        fields = {**fields, FIELD_SIGNATURE: ("g", signature)}
    header = Writer()
    header.data += struct.pack("<BBBBII", ord("l"), kind, flags, 1, len(body.data), serial)
    array = Writer()
    for code, (sig, value) in fields.items():
        array.align(8)
        array.byte(code)
        array.signature(sig)
        array.body(sig, [value])
    header.uint32(len(array.data))
    header.align(8)  # the array's elements are structs, aligned to 8
    header.data += array.data
    header.align(8)
    return bytes(header.data + body.data)


class Message:
    def __init__(self, kind, flags, serial, fields, body):
        self.kind = kind
        self.flags = flags
        self.serial = serial
        self.fields = fields
        self.body = body

    @property
    def member(self):
        return self.fields.get(FIELD_MEMBER)

    @property
    def sender(self):
        return self.fields.get(FIELD_SENDER)

    @property
    def reply_serial(self):
        return self.fields.get(FIELD_REPLY_SERIAL)


class Connection:
    """A client connection to the bus at $DBUS_SYSTEM_BUS_ADDRESS."""

    def __init__(self):
        address = os.environ["DBUS_SYSTEM_BUS_ADDRESS"]
        assert address.startswith("unix:path="), address
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(address[len("unix:path="):].split(",")[0])
        self.buffer = b""
        self.serial = 0
        self.send_lock = threading.Lock()
        self.pending = []  # messages read while waiting for a reply
        self.sock.sendall(b"\0AUTH EXTERNAL " + str(os.getuid()).encode().hex().encode()
                          + b"\r\n")
        line = self._read_line()
        assert line.startswith(b"OK "), line
        self.sock.sendall(b"BEGIN\r\n")
        self.unique_name = self.call("org.freedesktop.DBus", "/org/freedesktop/DBus",
                                     "org.freedesktop.DBus", "Hello")

    def close(self):
        # shutdown() also ends a recv() blocked in another thread, which
        # would otherwise keep the connection (and the name) alive.
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    def _read_line(self):
        while b"\r\n" not in self.buffer:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise EOFError("the bus closed the connection")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def _read_exactly(self, n):
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("the bus closed the connection")
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def read_message(self):
        fixed = self._read_exactly(16)
        endian, kind, flags, _version, body_length, serial, fields_length = struct.unpack(
            "<BBBBIII", fixed)
        assert endian == ord("l"), "only little-endian messages are handled"
        header_length = 16 + fields_length + (-(16 + fields_length) % 8)
        rest = self._read_exactly(header_length - 16 + body_length)
        reader = Reader(fixed + rest)
        reader.pos = 16
        fields = {}
        while reader.pos < 16 + fields_length:
            reader.align(8)
            code = reader.byte()
            sig = reader.signature()
            fields[code] = reader.uint32() if sig == "u" else (
                reader.signature() if sig == "g" else reader.string())
        body = (fixed + rest)[header_length:]
        return Message(kind, flags, serial, fields, body)

    def send(self, kind, fields, signature="", values=(), flags=0):
        with self.send_lock:
            self.serial += 1
            self.sock.sendall(encode_message(kind, self.serial, fields, signature, values, flags))
            return self.serial

    def call(self, destination, path, interface, member, signature="", values=()):
        """A method call; returns the first value of the reply if it is a
        string or uint32, else None. Raises RuntimeError for an error."""
        serial = self.send(METHOD_CALL, {FIELD_PATH: ("o", path), FIELD_INTERFACE: ("s", interface),
                                         FIELD_MEMBER: ("s", member),
                                         FIELD_DESTINATION: ("s", destination)},
                           signature, values)
        while True:
            message = self.read_message()
            if message.reply_serial != serial:
                self.pending.append(message)
                continue
            if message.kind == ERROR:
                raise RuntimeError(message.fields.get(FIELD_ERROR_NAME))
            sig = message.fields.get(FIELD_SIGNATURE, "")
            reader = Reader(message.body)
            if sig.startswith("s"):
                return reader.string()
            if sig.startswith("u"):
                return reader.uint32()
            return None

    def reply(self, call, signature="", values=()):
        self.send(METHOD_RETURN, {FIELD_REPLY_SERIAL: ("u", call.serial),
                                  FIELD_DESTINATION: ("s", call.sender)}, signature, values)

    def reply_error(self, call, name, text):
        self.send(ERROR, {FIELD_REPLY_SERIAL: ("u", call.serial),
                          FIELD_DESTINATION: ("s", call.sender),
                          FIELD_ERROR_NAME: ("s", name)}, "s", [text])

    def signal(self, destination, path, interface, member, signature, values):
        self.send(SIGNAL, {FIELD_PATH: ("o", path), FIELD_INTERFACE: ("s", interface),
                           FIELD_MEMBER: ("s", member), FIELD_DESTINATION: ("s", destination)},
                  signature, values, flags=NO_REPLY_EXPECTED)


DENIED_BATCH_SIGNATURE = "a(sssssuusit)"


class DenialStandIn:
    """Owns org.lockc.Manager and serves SubscribeDenials and
    UnsubscribeDenials from a thread; `deny()` sends a DeniedBatch signal."""

    def __init__(self):
        self.connection = Connection()
        # The previous owner's disconnection may still be on its way.
        deadline = time.monotonic() + 5
        while True:
            owner = self.connection.call("org.freedesktop.DBus", "/org/freedesktop/DBus",
                                         "org.freedesktop.DBus", "RequestName", "su",
                                         ["org.lockc.Manager", 4])  # DO_NOT_QUEUE
            if owner == 1:
                break
            if time.monotonic() > deadline:
                self.connection.close()
                raise RuntimeError("could not own org.lockc.Manager (is lockcd running?)")
            time.sleep(0.05)
        self.unique_name = self.connection.unique_name
        self.calls = []  # (member, sender) of every method call received
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        pending = list(self.connection.pending)
        while True:
            try:
                message = pending.pop(0) if pending else self.connection.read_message()
            except (EOFError, OSError):
                return
            if message.kind != METHOD_CALL:
                continue
            if message.member in ("SubscribeDenials", "UnsubscribeDenials"):
                self.connection.reply(message)
            else:
                self.connection.reply_error(message, "org.freedesktop.DBus.Error.UnknownMethod",
                                            "the stand-in only knows (Un)SubscribeDenials")
            # Recorded once answered: a test that sees the subscription can
            # send denials at once.
            with self.lock:
                self.calls.append((message.member, message.sender))

    def subscribers(self):
        with self.lock:
            return [sender for member, sender in self.calls if member == "SubscribeDenials"]

    def unsubscribers(self):
        with self.lock:
            return [sender for member, sender in self.calls if member == "UnsubscribeDenials"]

    def deny(self, destination, *denials):
        """Sends one DeniedBatch with `denials` to `destination`; each holds
        the JSON field names of lockcctl monitor --json."""
        send_denied(self.connection, destination, *denials)

    def close(self):
        self.connection.close()
        self.thread.join(timeout=5)


def send_denied(connection, destination, *denials):
    """One DeniedBatch signal with `denials`, from `connection`."""
    connection.signal(destination, "/org/lockc/Manager", "org.lockc.Manager", "DeniedBatch",
                      DENIED_BATCH_SIGNATURE,
                      [[d["container"], d["level"], d["mode"], d["hook"], d["target"], d["pid"],
                        d["uid"], d["comm"], d["errno"], d["time_usec"]] for d in denials])
