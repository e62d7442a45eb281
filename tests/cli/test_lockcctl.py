#!/usr/bin/env python3
"""End-to-end tests of lockcctl, the real binary against the real lockcd.

Run under tests/dbus/test-bus.sh (a private system bus with a real
dbus-daemon and polkitd, and the test users), as root, with
  LOCKCCTL       the lockcctl binary
  LOCKCD         the lockcd binary
  LOCKC_VERSION  the project version (what --version prints)
e.g.
  tests/dbus/test-bus.sh -- env LOCKCCTL=... LOCKCD=... LOCKC_VERSION=0.1.0 \\
      python3 -m unittest -v test_lockcctl.ListShowTest        (from tests/cli)

Each class starts its own lockcd (--allow-unenforced, private config,
state and pin directories) and stops it with SIGTERM, which must end it
with status 0. This host has no BPF LSM: lockcd reports Enforcing=false
and cannot produce Denied signals; MonitorOutputTest therefore uses a
stand-in for lockcd that sends DeniedBatch as the API documents (dbus_wire.py),
and lockcd's own Denied signals are tested in the VM (tests/vm/service).
Nor can lockcd make a systemd scope here (systemd is not on the test bus):
RunTest checks run up to lockcd's answer, and RunStandInTest what lockcctl
does after a successful one, with a stand-in for lockcd.
"""

import fcntl
import json
import os
import re
import select
import shutil
import signal
import struct
import subprocess
import tempfile
import termios
import threading
import time
import unittest

import dbus_wire

LOCKCCTL = os.environ.get("LOCKCCTL", "")
LOCKCD = os.environ.get("LOCKCD", "")
VERSION = os.environ.get("LOCKC_VERSION", "")
BUS_NAME = "org.lockc.Manager"
MANAGER_PATH = "/org/lockc/Manager"
MANAGER = "org.lockc.Manager"
CONTAINER = "org.lockc.Container"

STATUS_FIELDS = ["Version", "Enforcing", "EnforcementProblem", "KernelLsms", "DefaultLevel",
                 "DefaultMode", "ContainerCount", "Denials", "Audits", "KernelDrops",
                 "EventsReceived", "JournalSuppressed", "SignalsSuppressed"]
STATUS_JSON_FIELDS = {"version", "enforcing", "enforcement_problem", "kernel_lsms",
                      "default_level", "default_mode", "containers", "denials", "audits",
                      "kernel_drops", "events_received", "journal_suppressed",
                      "signals_suppressed"}
SHOW_FIELDS = ["Id", "Level", "Mode", "Runtime", "State", "CgroupPath", "CgroupId",
               "PendingName", "RegisteredAt", "Decisions"]
SHOW_JSON_FIELDS = {"id", "level", "mode", "runtime", "state", "cgroup_path", "cgroup_id",
                    "pending_name", "registered_at_usec", "decisions"}
LIST_COLUMNS = ["ID", "RUNTIME", "LEVEL", "MODE", "STATE", "DENIALS"]
MONITOR_JSON_FIELDS = {"container", "level", "mode", "hook", "target", "pid", "uid", "comm",
                       "errno", "time_usec"}
# Bytes a terminal acts on: none may reach it from lockcd's strings.
TERMINAL_CONTROLS = [b"\x1b", b"\x07", b"\x7f", b"\r", b"\xc2\x9b", "\u202e".encode()]


def setUpModule():
    missing = [name for name in ("LOCKCCTL", "LOCKCD", "LOCKC_VERSION", "DBUS_SYSTEM_BUS_ADDRESS",
                                 "LOCKC_TEST_OUTSIDER_UID", "LOCKC_TEST_MEMBER_UID")
               if not os.environ.get(name)]
    if missing:
        raise RuntimeError("missing " + ", ".join(missing) +
                           ": run under tests/dbus/test-bus.sh with LOCKCCTL, LOCKCD and "
                           "LOCKC_VERSION set (see this file's docstring)")


# ---- helpers ---------------------------------------------------------------

class Result:
    def __init__(self, code, out, err):
        self.code = code
        self.out = out  # bytes
        self.err = err

    @property
    def stdout(self):
        return self.out.decode("utf-8")

    @property
    def stderr(self):
        return self.err.decode("utf-8", "backslashreplace")

    def __repr__(self):
        return f"exit {self.code}, stdout {self.out!r}, stderr {self.err!r}"


def user_ids(kind):
    return (int(os.environ[f"LOCKC_TEST_{kind}_UID"]), int(os.environ[f"LOCKC_TEST_{kind}_GID"]))


OUTSIDER = "OUTSIDER"
MEMBER = "MEMBER"


def as_user(user, command):
    if user is None:
        return command
    uid, gid = user_ids(user)
    return ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", *command]


def lockcctl(*args, user=None, env=None, timeout=30):
    command = as_user(user, [LOCKCCTL, *args])
    completed = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, env=env,
                               timeout=timeout, check=False)
    return Result(completed.returncode, completed.stdout, completed.stderr)


def name_owner(name=BUS_NAME):
    completed = subprocess.run(
        ["dbus-send", "--system", "--print-reply=literal", "--dest=org.freedesktop.DBus",
         "/org/freedesktop/DBus", "org.freedesktop.DBus.GetNameOwner", f"string:{name}"],
        capture_output=True, text=True, check=False)
    return completed.stdout.strip() if completed.returncode == 0 else None


def busctl_property(path, interface, name):
    """A property as busctl (not lockcctl) reads it: the independent oracle."""
    completed = subprocess.run(["busctl", "--system", "--json=short", "get-property", BUS_NAME,
                                path, interface, name], capture_output=True, text=True,
                               check=True)
    return json.loads(completed.stdout)["data"]


def object_path(container_id):
    """sd_bus_path_encode(): every byte but [A-Za-z0-9], and a leading digit,
    becomes _xx."""
    encoded = "".join(
        ch if (ch.isascii() and ch.isalpha()) or (ch.isdigit() and i > 0) else f"_{ord(ch):02x}"
        for i, ch in enumerate(container_id))
    return f"{MANAGER_PATH}/container/{encoded}"


def cgroup2_mount():
    with open("/proc/self/mounts", encoding="utf-8") as mounts:
        for line in mounts:
            fields = line.split()
            if fields[2] == "cgroup2":
                return fields[1]
    raise unittest.SkipTest("cgroup v2 is not mounted")


def local_time(usec, milliseconds):
    seconds = usec // 1000000
    if milliseconds:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds)) + \
            f".{usec % 1000000 // 1000:03d}"
    return time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(seconds))


def fields_of(text):
    """The "Name: value" lines of status and show, in order; a continued
    value (Decisions) is appended to the previous one."""
    fields = []
    for line in text.splitlines():
        match = re.match(r"^(\w+):(\s+)(.*)$", line)
        if match:
            fields.append([match.group(1), match.group(3), len(match.group(1)) + 1 +
                           len(match.group(2))])
        else:
            fields[-1][1] += "\n" + line.strip()
    return fields


def process_alive(pid):
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as stat:
            return stat.read().rsplit(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


def processes_named(comm):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm", encoding="utf-8") as f:
                    if f.read().strip() == comm:
                        found.append(int(entry))
            except OSError:
                pass
    return found


def wait_for(predicate, timeout=5.0, what="a condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class Lockcd:
    """The real lockcd, started with --allow-unenforced on a private
    configuration, state and pin directory."""

    def __init__(self, directory, config_text):
        self.directory = directory
        self.config = os.path.join(directory, "lockc.toml")
        self.state = os.path.join(directory, "state")
        self.log_path = os.path.join(directory, "lockcd.log")
        os.makedirs(self.state, exist_ok=True)
        self.write_config(config_text)
        self.process = None

    def write_config(self, text):
        with open(self.config, "w", encoding="utf-8") as f:
            f.write(text)

    def start(self, *extra):
        with open(self.log_path, "a", encoding="utf-8") as log:
            self.process = subprocess.Popen(
                [LOCKCD, "--allow-unenforced", "--config", self.config, "--state-dir", self.state,
                 "--pin-dir", os.path.join(self.directory, "pins"), *extra],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while name_owner() is None:
            if self.process.poll() is not None:
                raise RuntimeError(f"lockcd exited ({self.process.returncode}) while starting:\n"
                                   + self.log())
            if time.monotonic() > deadline:
                raise RuntimeError("lockcd did not own its name within 10 s:\n" + self.log())
            time.sleep(0.02)

    def running(self):
        return self.process is not None and self.process.poll() is None

    def stop(self):
        """SIGTERM; returns the exit status once the name is released."""
        self.process.send_signal(signal.SIGTERM)
        status = self.process.wait(timeout=10)
        wait_for(lambda: name_owner() is None, what="lockcd's name to be released")
        return status

    def log(self):
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return "(no log)"


class DbusMonitor:
    """dbus-monitor (root may eavesdrop on the test bus) with match rules;
    the messages it saw, parsed."""

    PROBE = "org.lockc.TestProbe"

    def __init__(self, *rules):
        self.process = subprocess.Popen(
            ["dbus-monitor", "--system", *rules, f"type='signal',interface='{self.PROBE}'"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.messages = []
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        # Ready once it sees a signal sent after it started.
        wait_for(self._probe_seen, what="dbus-monitor to be ready")

    def _probe_seen(self):
        subprocess.run(["dbus-send", "--system", "--type=signal", "/probe", f"{self.PROBE}.Ready"],
                       check=True)
        time.sleep(0.05)
        return any(m["member"] == "Ready" for m in self.snapshot())

    def _read(self):
        current = None
        for raw in self.process.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            header = re.match(r"^(method call|method return|error|signal) (.*)$", line)
            with self.lock:
                if header:
                    current = dict(re.findall(r"(\w+)=([^\s;]+)", header.group(2)))
                    current.setdefault("member", None)
                    current["type"] = header.group(1)
                    current["args"] = []
                    self.messages.append(current)
                elif current is not None:
                    current["args"].append(line.strip())

    def snapshot(self):
        with self.lock:
            return list(self.messages)

    def calls(self, member):
        return [m for m in self.snapshot() if m["type"] == "method call" and m["member"] == member]

    def reply_to(self, call):
        for m in self.snapshot():
            if m["type"] in ("method return", "error") and m.get("reply_serial") == call["serial"] \
                    and m.get("destination") == call["sender"]:
                return m
        return None

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=5)
        self.reader.join(timeout=5)
        self.process.stdout.close()


class Terminal:
    """A process on a pseudo-terminal that is its controlling terminal
    (pkttyagent opens /dev/tty)."""

    def __init__(self, command, env=None):
        self.master, slave = os.openpty()

        def make_controlling_terminal():
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.process = subprocess.Popen(command, stdin=slave, stdout=slave, stderr=slave, env=env,
                                        preexec_fn=make_controlling_terminal)
        os.close(slave)
        self.output = b""

    def finish(self, timeout=20):
        """Reads everything until the process exits; returns its status."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:  # EIO: the last writer closed the terminal
                    break
                if not chunk:
                    break
                self.output += chunk
            elif self.process.poll() is not None:
                break
        status = self.process.wait(timeout=max(1, deadline - time.monotonic()))
        os.close(self.master)
        return status


# ---- the base class ----------------------------------------------------------

class LockcdTestCase(unittest.TestCase):
    CONFIG = ""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="lockcctl-test.")
        os.chmod(cls.dir, 0o755)
        cls.lockcd = Lockcd(cls.dir, cls.CONFIG)
        cls.lockcd.start()

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.lockcd.running():
                status = cls.lockcd.stop()
                if status != 0:
                    raise AssertionError(f"lockcd exited with {status} on SIGTERM:\n"
                                         + cls.lockcd.log())
        finally:
            shutil.rmtree(cls.dir, ignore_errors=True)

    def ctl(self, *args, **kwargs):
        return lockcctl(*args, **kwargs)

    def assert_success(self, result):
        self.assertEqual(result.code, 0, result)
        self.assertEqual(result.err, b"", result)

    def assert_error(self, result, code, *fragments):
        """Exit status `code`, nothing on stdout, one line "lockcctl: ..." on
        stderr holding every fragment."""
        self.assertEqual(result.code, code, result)
        self.assertEqual(result.out, b"", result)
        self.assertTrue(result.stderr.startswith("lockcctl: "), result)
        self.assertTrue(result.stderr.endswith("\n"), result)
        self.assertEqual(result.stderr.count("\n"), 1, result)
        for fragment in fragments:
            self.assertIn(fragment, result.stderr)

    def json_of(self, *args, **kwargs):
        result = self.ctl(*args, "--json", **kwargs)
        self.assert_success(result)
        self.assertEqual(result.stdout.count("\n"), 1, "one JSON document on one line")
        return json.loads(result.stdout)

    def make_cgroup(self, name):
        """A cgroup v2 directory for this test; returns (absolute, relative)."""
        mount = cgroup2_mount()
        relative = f"/lockcctl-test-{os.getpid()}-{name}"
        absolute = mount + relative
        os.mkdir(absolute)
        self.addCleanup(remove_cgroup, absolute)
        return absolute, relative

    def register(self, container_id, *args):
        result = self.ctl("register", container_id, *args)
        self.assert_success(result)
        self.addCleanup(self.ctl, "unregister", container_id)
        return result

    def restart_lockcd_later(self):
        self.addCleanup(lambda: None if self.lockcd.running() else self.lockcd.start())

    def stop_lockcd(self):
        status = self.lockcd.stop()
        self.assertEqual(status, 0, "lockcd must exit 0 on SIGTERM:\n" + self.lockcd.log())


def remove_cgroup(absolute):
    for _ in range(100):
        try:
            with open(os.path.join(absolute, "cgroup.procs"), encoding="utf-8") as procs:
                pids = [int(p) for p in procs.read().split()]
        except FileNotFoundError:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            os.rmdir(absolute)
            return
        except OSError:
            time.sleep(0.05)


# ---- the command line --------------------------------------------------------

class UsageTest(LockcdTestCase):
    def test_help(self):
        for args in (["--help"], ["-h"], ["help"], ["list", "--help"]):
            with self.subTest(args=args):
                result = self.ctl(*args)
                self.assert_success(result)
                self.assertTrue(result.stdout.startswith("Usage: lockcctl "))
                for command in ("status", "list, ls", "show ID", "levels", "set-level ID LEVEL",
                                "set-mode ID MODE", "set-default", "register ID", "unregister ID",
                                "reload", "monitor [ID...]", "run --level LEVEL",
                                "--no-ask-password", "--no-legend",
                                "--no-pager", "--json", "-q, --quiet"):
                    self.assertIn(command, result.stdout)
                for code in ("0  success", "1  any other failure", "2  usage error",
                             "4  no such container", "5  not authorised",
                             "6  lockcd is not reachable"):
                    self.assertIn(code, result.stdout)

    def test_version(self):
        result = self.ctl("--version")
        self.assert_success(result)
        self.assertEqual(result.stdout, f"lockcctl {VERSION}\n")

    def test_usage_errors(self):
        cases = [
            ([], "no command given"),
            (["frobnicate"], "unknown command 'frobnicate'"),
            (["list", "--frobnicate"], "unknown option '--frobnicate'"),
            (["-x", "list"], "unknown option '-x'"),
            (["show"], "missing argument: lockcctl show ID"),
            (["set-level", "web"], "missing argument: lockcctl set-level ID LEVEL"),
            (["register"], "missing argument"),
            (["status", "extra"], "too many arguments: lockcctl status"),
            (["show", "a", "b"], "too many arguments"),
            (["set-level", "web", "bogus"], "unknown level 'bogus'"),
            (["set-level", "web", "Baseline"], "unknown level 'Baseline'"),
            (["set-mode", "web", "loud"], "unknown mode 'loud'"),
            (["set-default"], "set-default needs a LEVEL, --mode MODE or both"),
            (["set-default", "bogus"], "unknown level 'bogus'"),
            (["set-default", "--mode", "x"], "unknown mode 'x'"),
            (["register", "web", "--cgroup", "/x"], "register needs --level LEVEL"),
            (["register", "web", "--level", "baseline"], "register needs one of --cgroup"),
            (["register", "web", "--level", "nope", "--cgroup", "/x"], "unknown level 'nope'"),
            (["register", "web", "--level", "baseline", "--mode", "x", "--cgroup", "/x"],
             "unknown mode 'x'"),
            (["register", "web", "--level", "baseline", "--cgroup", "/x", "--pid", "1"],
             "give only one of --cgroup, --scope and --pid"),
            (["register", "web", "--level", "baseline", "--pid", "abc"],
             "--pid needs a process id"),
            (["register", "web", "--level", "baseline", "--pid", "0"], "--pid needs a process id"),
            (["register", "web", "--level"], "option --level needs a value"),
            (["register", "web", "--level", "baseline", "--level", "baseline", "--scope", "x"],
             "option --level is given twice"),
            (["list", "--level", "baseline"], "option --level is not valid for 'list'"),
            (["set-level", "web", "baseline", "--mode", "audit"],
             "option --mode is not valid for 'set-level'"),
            (["status", "--json=yes"], "option --json takes no value"),
            (["show", b"caf\xff"], "argument 2 is not valid UTF-8"),
        ]
        for args, fragment in cases:
            with self.subTest(args=args):
                result = self.ctl(*args)
                self.assert_error(result, 2, fragment, "; see 'lockcctl --help'")

    def test_usage_errors_are_found_before_asking_lockcd(self):
        # "web" is not registered: had the call been sent, the answer
        # would have been 4 (no such container).
        self.assert_error(self.ctl("set-level", "web", "bogus"), 2, "unknown level")
        self.assert_error(self.ctl("set-default", "restricted", "--mode", "bogus"), 2)
        self.assertEqual(self.json_of("status")["default_level"], "baseline")

    def test_global_options_anywhere(self):
        before = self.ctl("--json", "status")
        after = self.ctl("status", "--json")
        self.assert_success(before)
        self.assertEqual(before.out, after.out)
        self.assertEqual(self.ctl("--no-legend", "list").out, self.ctl("list", "--no-legend").out)
        result = self.ctl("-q", "register", "quiet-first", "--level", "baseline",
                          "--scope", "docker-quiet.scope")
        self.addCleanup(self.ctl, "unregister", "quiet-first")
        self.assert_success(result)
        self.assertEqual(result.out, b"")

    def test_double_dash_ends_options(self):
        result = self.ctl("register", "--level", "baseline", "--scope", "docker-dd.scope", "--",
                          "--dashed")
        self.addCleanup(self.ctl, "unregister", "--", "--dashed")
        self.assert_success(result)
        show = self.ctl("--json", "show", "--", "--dashed")
        self.assert_success(show)
        self.assertEqual(json.loads(show.stdout)["id"], "--dashed")


class StatusTest(LockcdTestCase):
    CONFIG = '[defaults]\nlevel = "restricted"\nmode = "audit"\n'

    def test_human(self):
        result = self.ctl("status")
        self.assert_success(result)
        fields = fields_of(result.stdout)
        self.assertEqual([name for name, _, _ in fields], STATUS_FIELDS)
        self.assertEqual(len({column for _, _, column in fields}), 1, "values are aligned")
        values = {name: value for name, value, _ in fields}
        problem = busctl_property(MANAGER_PATH, MANAGER, "EnforcementProblem")
        self.assertEqual(values["Version"], VERSION)
        self.assertEqual(values["Enforcing"], "no")
        self.assertEqual(values["EnforcementProblem"], problem)
        self.assertIn("lsm=", values["EnforcementProblem"])
        lsms = busctl_property(MANAGER_PATH, MANAGER, "KernelLsms")
        self.assertEqual(values["KernelLsms"], ",".join(lsms) if lsms else "-")
        self.assertEqual(values["DefaultLevel"], "restricted")
        self.assertEqual(values["DefaultMode"], "audit")
        self.assertEqual(values["ContainerCount"], "0")
        for name in ("Denials", "Audits"):
            counts = busctl_property(MANAGER_PATH, MANAGER, name)
            self.assertEqual(values[name], str(sum(counts.values())))
        for name in ("KernelDrops", "EventsReceived", "JournalSuppressed", "SignalsSuppressed"):
            self.assertEqual(values[name], str(busctl_property(MANAGER_PATH, MANAGER, name)))

    def test_json(self):
        status = self.json_of("status")
        self.assertEqual(set(status), STATUS_JSON_FIELDS)
        self.assertEqual(status["version"], VERSION)
        self.assertIs(status["enforcing"], False)
        self.assertEqual(status["enforcement_problem"],
                         busctl_property(MANAGER_PATH, MANAGER, "EnforcementProblem"))
        self.assertEqual(status["kernel_lsms"], busctl_property(MANAGER_PATH, MANAGER, "KernelLsms"))
        self.assertEqual(status["default_level"], "restricted")
        self.assertEqual(status["default_mode"], "audit")
        self.assertEqual(status["containers"], 0)
        self.assertEqual(status["denials"],
                         sum(busctl_property(MANAGER_PATH, MANAGER, "Denials").values()))
        self.assertEqual(status["audits"],
                         sum(busctl_property(MANAGER_PATH, MANAGER, "Audits").values()))
        for field, name in (("kernel_drops", "KernelDrops"), ("events_received", "EventsReceived"),
                            ("journal_suppressed", "JournalSuppressed"),
                            ("signals_suppressed", "SignalsSuppressed")):
            self.assertEqual(status[field], busctl_property(MANAGER_PATH, MANAGER, name))
            self.assertIsInstance(status[field], int)

    def test_container_count_follows_registrations(self):
        self.register("counted", "--level", "baseline", "--scope", "docker-counted.scope")
        self.assertEqual(self.json_of("status")["containers"], 1)
        values = {name: value for name, value, _ in fields_of(self.ctl("status").stdout)}
        self.assertEqual(values["ContainerCount"], "1")
        self.assert_success(self.ctl("unregister", "counted"))
        self.assertEqual(self.json_of("status")["containers"], 0)


class ListShowTest(LockcdTestCase):
    def test_empty_list(self):
        result = self.ctl("list")
        self.assert_success(result)
        self.assertEqual(result.stdout.splitlines()[0].split(), LIST_COLUMNS)
        self.assertEqual(result.stdout.splitlines()[1:], ["", "0 containers listed."])
        self.assertEqual(self.ctl("list", "--no-legend").out, b"")
        self.assertEqual(self.json_of("list"), [])

    def register_three(self):
        _, relative = self.make_cgroup("alpha")
        self.register("zeta", "--level", "baseline", "--scope", "docker-zeta.scope")
        self.register("alpha", "--level", "restricted", "--mode", "audit", "--cgroup", relative,
                      "--runtime", "docker")
        self.register("mid", "--level", "privileged", "--scope", "libpod-mid.scope",
                      "--runtime", "podman")
        return [["alpha", "docker", "restricted", "audit", "active", "0"],
                ["mid", "podman", "privileged", "enforce", "pending", "0"],
                ["zeta", "-", "baseline", "enforce", "pending", "0"]]

    def test_list_human_sorted_and_aligned(self):
        expected = self.register_three()
        for command in ("list", "ls"):
            with self.subTest(command=command):
                result = self.ctl(command)
                self.assert_success(result)
                lines = result.stdout.splitlines()
                header = lines[0]
                self.assertEqual(header.split(), LIST_COLUMNS)
                self.assertEqual([line.split() for line in lines[1:4]], expected)
                self.assertEqual(lines[4:], ["", "3 containers listed."])
                # Every cell starts under its title (DENIALS ends under it).
                for line, row in zip(lines[1:4], expected):
                    for title, cell in zip(LIST_COLUMNS[:-1], row[:-1]):
                        self.assertEqual(line[header.index(title):].split()[0], cell)
                    self.assertEqual(len(line), len(header))
                no_legend = self.ctl(command, "--no-legend")
                self.assert_success(no_legend)
                self.assertEqual([line.split() for line in no_legend.stdout.splitlines()],
                                 expected)

    def test_list_json(self):
        expected = self.register_three()
        self.assertEqual(self.json_of("list"), [
            {"id": row[0], "runtime": "" if row[1] == "-" else row[1], "level": row[2],
             "mode": row[3], "state": row[4], "denials": int(row[5])} for row in expected])
        self.assertEqual(self.json_of("ls", "--no-legend"), self.json_of("list"))

    def test_show_human(self):
        absolute, relative = self.make_cgroup("shown")
        self.register("shown", "--level", "restricted", "--mode", "audit", "--cgroup", relative,
                      "--runtime", "cri-containerd")
        result = self.ctl("show", "shown")
        self.assert_success(result)
        fields = fields_of(result.stdout)
        self.assertEqual([name for name, _, _ in fields], SHOW_FIELDS)
        self.assertEqual(len({column for _, _, column in fields}), 1, "values are aligned")
        values = {name: value for name, value, _ in fields}
        registered = self.json_of("show", "shown")["registered_at_usec"]
        self.assertEqual(values, {
            "Id": "shown", "Level": "restricted", "Mode": "audit", "Runtime": "cri-containerd",
            "State": "active", "CgroupPath": relative, "CgroupId": str(os.stat(absolute).st_ino),
            "PendingName": "-", "RegisteredAt": local_time(registered, False),
            "Decisions": "none"})

    def test_show_json(self):
        absolute, relative = self.make_cgroup("json")
        before = time.time_ns() // 1000
        self.register("json", "--level", "baseline", "--cgroup", relative)
        after = time.time_ns() // 1000
        show = self.json_of("show", "json")
        self.assertEqual(set(show), SHOW_JSON_FIELDS)
        path = object_path("json")
        self.assertEqual(show["id"], "json")
        self.assertEqual(show["level"], "baseline")
        self.assertEqual(show["mode"], "enforce")
        self.assertEqual(show["runtime"], "")
        self.assertEqual(show["state"], "active")
        self.assertEqual(show["cgroup_path"], relative)
        # The cgroup v2 id is the directory's inode number.
        self.assertEqual(show["cgroup_id"], os.stat(absolute).st_ino)
        self.assertEqual(show["pending_name"], "")
        self.assertGreaterEqual(show["registered_at_usec"], before)
        self.assertLessEqual(show["registered_at_usec"], after)
        self.assertEqual(show["registered_at_usec"],
                         busctl_property(path, CONTAINER, "RegisteredAt"))
        # All hooks, zeros included, in JSON; the same as lockcd's property.
        self.assertEqual(show["decisions"], busctl_property(path, CONTAINER, "Decisions"))
        self.assertIn("sb_mount", show["decisions"])
        self.assertTrue(all(isinstance(v, int) for v in show["decisions"].values()))

    def test_show_pending_scope(self):
        self.register("waiting", "--level", "baseline", "--scope", "docker-waiting.scope")
        show = self.json_of("show", "waiting")
        self.assertEqual((show["state"], show["cgroup_path"], show["cgroup_id"],
                          show["pending_name"]), ("pending", "", 0, "docker-waiting.scope"))
        values = {name: value for name, value, _ in fields_of(self.ctl("show", "waiting").stdout)}
        self.assertEqual((values["State"], values["CgroupPath"], values["CgroupId"],
                          values["PendingName"]),
                         ("pending", "-", "-", "docker-waiting.scope"))

    def test_unknown_container(self):
        for args in (["show", "nope"], ["show", "nope", "--json"],
                     ["set-level", "nope", "restricted"], ["set-mode", "nope", "audit"],
                     ["unregister", "nope"], ["unregister", "nope", "--json"]):
            with self.subTest(args=args):
                result = self.ctl(*args)
                self.assertEqual(result.code, 4, result)
                self.assertEqual(result.out, b"")
                self.assertEqual(result.stderr,
                                 "lockcctl: no container nope is registered; see 'lockcctl list'\n")


class LevelsTest(LockcdTestCase):
    LEVELS = ["privileged", "baseline", "restricted"]
    RULE = '[[rules]]\nkind = "open"\npath = "/srv/levels-secret"\ndeny = ["restricted"]\n'

    @staticmethod
    def entries(text, level):
        """The lines under `level`'s header line, up to the next one, cut
        into [kind, target, denies] at the legend's columns (a device
        target has a space in it)."""
        lines = text.splitlines()
        columns = [lines[0].index(title) for title in ("KIND", "TARGET", "DENIES")]
        start = lines.index(f"{level}:") + 1
        end = start
        while end < len(lines) and lines[end].startswith("  "):
            end += 1
        return [line.strip() if line.startswith("  (") else
                [line[a:b].strip() for a, b in zip(columns, columns[1:] + [None])]
                for line in lines[start:end]]

    def test_text_groups_entries_by_level(self):
        result = self.ctl("levels")
        self.assert_success(result)
        lines = result.stdout.splitlines()
        self.assertEqual(lines[0].split(), ["KIND", "TARGET", "DENIES"])
        headers = [line for line in lines if line.endswith(":") and not line.startswith(" ")]
        self.assertEqual(headers, [f"{level}:" for level in self.LEVELS])
        self.assertEqual(self.entries(result.stdout, "privileged"), ["(nothing denied)"])
        baseline = self.entries(result.stdout, "baseline")
        restricted = self.entries(result.stdout, "restricted")
        for rows in (baseline, restricted):
            self.assertIn(["fs-open", "proc:/sysrq-trigger", "read,write"], rows)
            self.assertIn(["device", "c 1:1", "read,write"], rows)
            self.assertIn(["operation", "syslog"], [row[:2] for row in rows])
        self.assertIn(["operation", "userns_create"], [row[:2] for row in restricted])
        self.assertNotIn(["operation", "userns_create"], [row[:2] for row in baseline])
        # restricted: no character device but Docker's, each an exception.
        self.assertIn(["device", "c *:*", "read,write"], restricted)
        self.assertIn(["device", "c 1:3", "allowed"], restricted)
        self.assertNotIn(["device", "c *:*", "read,write"], baseline)
        self.assertNotIn(["device", "c 1:3", "allowed"], baseline)
        # Columns line up across levels: every target starts under TARGET.
        column = lines[0].index("TARGET")
        for line in lines[1:]:
            if line.startswith("  ") and not line.startswith("  (nothing"):
                self.assertNotEqual(line[column], " ", line)
                self.assertEqual(line[column - 1], " ", line)
        self.assertRegex(lines[-1], r"^3 levels, [0-9]+ entries listed\.$")

        no_legend = self.ctl("levels", "--no-legend")
        self.assert_success(no_legend)
        self.assertEqual(no_legend.stdout.splitlines()[0], "privileged:")
        self.assertNotIn("KIND", no_legend.stdout)
        self.assertNotIn("entries listed", no_legend.stdout)

    def test_json(self):
        levels = self.json_of("levels")
        self.assertEqual([level["level"] for level in levels], self.LEVELS)
        self.assertEqual(levels[0]["denies"], [])
        for level in levels:
            self.assertEqual(set(level), {"level", "denies"})
            for denial in level["denies"]:
                self.assertEqual(set(denial), {"kind", "target", "access"})
        self.assertIn({"kind": "fs-open", "target": "sysfs:/", "access": "read,write"},
                      levels[1]["denies"])
        self.assertEqual(self.json_of("levels", "--no-legend"), levels)

    def test_rules_of_the_configuration_show_after_reload(self):
        rule = {"kind": "open", "target": "/srv/levels-secret", "access": "read,write"}
        self.assertNotIn(rule, self.json_of("levels")[2]["denies"])
        self.addCleanup(self.ctl, "reload")
        self.addCleanup(self.lockcd.write_config, self.CONFIG)
        self.lockcd.write_config(self.RULE)
        self.assert_success(self.ctl("reload"))
        levels = self.json_of("levels")
        self.assertIn(rule, levels[2]["denies"])
        self.assertNotIn(rule, levels[1]["denies"])
        self.assertIn(["open", "/srv/levels-secret", "read,write"],
                      self.entries(self.ctl("levels").stdout, "restricted"))


class RegisterTest(LockcdTestCase):
    def test_by_cgroup_relative_and_absolute(self):
        _, relative = self.make_cgroup("rel")
        absolute, relative_too = self.make_cgroup("abs")
        self.register("by-relative", "--level", "baseline", "--cgroup", relative)
        self.register("by-absolute", "--level", "baseline", "--cgroup", absolute)
        self.assertEqual(self.json_of("show", "by-relative")["cgroup_path"], relative)
        self.assertEqual(self.json_of("show", "by-absolute")["cgroup_path"], relative_too)

    def test_by_scope(self):
        self.register("by-scope", "--level", "restricted", "--scope", "docker-1f2e.scope")
        show = self.json_of("show", "by-scope")
        self.assertEqual((show["state"], show["pending_name"], show["level"]),
                         ("pending", "docker-1f2e.scope", "restricted"))

    def test_by_pid(self):
        absolute, relative = self.make_cgroup("pid")

        def join_cgroup():
            with open(os.path.join(absolute, "cgroup.procs"), "w", encoding="ascii") as procs:
                procs.write(str(os.getpid()))

        sleeper = subprocess.Popen(["sleep", "600"], preexec_fn=join_cgroup)
        self.addCleanup(sleeper.wait)
        self.addCleanup(sleeper.kill)

        def sleeper_moved():
            with open(os.path.join(absolute, "cgroup.procs"), encoding="ascii") as procs:
                return str(sleeper.pid) in procs.read().split()

        wait_for(sleeper_moved, what="the sleeper to be in its cgroup")
        self.register("by-pid", "--level", "baseline", "--pid", str(sleeper.pid))
        show = self.json_of("show", "by-pid")
        self.assertEqual((show["state"], show["cgroup_path"], show["cgroup_id"]),
                         ("active", relative, os.stat(absolute).st_ino))

    def test_output(self):
        human = self.ctl("register", "out-human", "--level", "baseline",
                         "--scope", "docker-outh.scope")
        self.addCleanup(self.ctl, "unregister", "out-human")
        self.assert_success(human)
        self.assertEqual(human.stdout, object_path("out-human") + "\n")
        as_json = self.ctl("register", "9-out-json", "--json", "--level", "baseline",
                           "--scope", "docker-outj.scope")
        self.addCleanup(self.ctl, "unregister", "9-out-json")
        self.assert_success(as_json)
        self.assertEqual(json.loads(as_json.stdout),
                         {"id": "9-out-json", "object_path": object_path("9-out-json")})
        self.assertTrue(json.loads(as_json.stdout)["object_path"].endswith("/_39_2dout_2djson"))
        for extra in (["-q"], ["--quiet", "--json"]):
            with self.subTest(extra=extra):
                container = "out-quiet" + str(len(extra))
                quiet = self.ctl("register", container, *extra, "--level", "baseline",
                                 "--scope", f"docker-{container}.scope")
                self.addCleanup(self.ctl, "unregister", container)
                self.assert_success(quiet)
                self.assertEqual(quiet.out, b"")
                self.assertEqual(self.json_of("show", container)["id"], container)

    def test_mode_and_runtime(self):
        self.register("with-mode", "--level", "baseline", "--mode", "audit",
                      "--scope", "docker-wm.scope", "--runtime", "podman")
        self.register("default-mode", "--level", "baseline", "--scope", "docker-dm.scope")
        show = self.json_of("show", "with-mode")
        self.assertEqual((show["mode"], show["runtime"]), ("audit", "podman"))
        self.assertEqual(self.json_of("show", "default-mode")["mode"], "enforce")

    def test_refusals_from_lockcd(self):
        _, relative = self.make_cgroup("taken")
        self.register("taken", "--level", "baseline", "--cgroup", relative)
        self.assert_error(self.ctl("register", "taken", "--level", "baseline",
                                   "--scope", "docker-other.scope"),
                          1, "lockcctl: cannot register container taken: ")
        self.assert_error(self.ctl("register", "taken-again", "--level", "baseline",
                                   "--cgroup", relative), 1, "cannot register container taken-again")
        self.assert_error(self.ctl("register", "has space", "--level", "baseline",
                                   "--scope", "docker-sp.scope"), 1, "printable ASCII")
        # lockcd answers NotFound for a cgroup that does not exist, and
        # NotFound is exit 4.
        self.assert_error(self.ctl("register", "nowhere", "--level", "baseline",
                                   "--cgroup", "/lockcctl-test-does-not-exist"), 4,
                          "lockcctl: cannot register container nowhere: no cgroup "
                          "/lockcctl-test-does-not-exist")
        ids = [c["id"] for c in self.json_of("list")]
        self.assertEqual(ids, ["taken"])

    def test_unregister(self):
        result = self.ctl("register", "gone-soon", "--level", "baseline",
                          "--scope", "docker-gs.scope")
        self.assert_success(result)
        unregistered = self.ctl("unregister", "gone-soon")
        self.assert_success(unregistered)
        self.assertEqual(unregistered.stdout, "gone-soon: unregistered\n")
        self.assertEqual(self.json_of("list"), [])
        self.assert_success(self.ctl("register", "gone-soon", "-q", "--level", "baseline",
                                     "--scope", "docker-gs.scope"))
        quiet = self.ctl("unregister", "-q", "gone-soon")
        self.assert_success(quiet)
        self.assertEqual(quiet.out, b"")
        self.assertEqual(self.json_of("list"), [])

    def test_hostile_strings_are_escaped(self):
        # Ids are printable ASCII without spaces; anything else (runtime
        # names, cgroup paths) may hold any character.
        hostile_id = 'h"o\\s\'t{i}l[e]<$(x)>`;|&*?#%'
        runtime = "run\x1b[31mtime\n\x9b2J\u202eevil\x07\x7f\r\t"
        register = self.ctl("register", hostile_id, "--json", "--level", "baseline",
                            "--scope", "docker-hostile.scope", "--runtime", runtime)
        self.addCleanup(self.ctl, "unregister", hostile_id)
        self.assert_success(register)
        self.assertEqual(json.loads(register.stdout),
                         {"id": hostile_id, "object_path": object_path(hostile_id)})
        for args in (["list", "--json"], ["show", hostile_id, "--json"]):
            raw = self.ctl(*args).out
            for control in TERMINAL_CONTROLS:
                self.assertNotIn(control, raw, "JSON is safe on a terminal too")
        listed = self.json_of("list")
        self.assertEqual((listed[0]["id"], listed[0]["runtime"]), (hostile_id, runtime))
        shown = self.json_of("show", hostile_id)
        self.assertEqual((shown["id"], shown["runtime"]), (hostile_id, runtime))
        for args in (["list"], ["show", hostile_id], ["set-level", hostile_id, "restricted"]):
            with self.subTest(args=args):
                result = self.ctl(*args)
                self.assert_success(result)
                for control in TERMINAL_CONTROLS:
                    self.assertNotIn(control, result.out)
                self.assertIn(hostile_id, result.stdout)
        table = self.ctl("list").stdout
        self.assertEqual(len(table.splitlines()), 4, "the newline in the runtime is escaped")
        self.assertIn("run\\x1b[31mtime\\x0a\\xc2\\x9b2J\\xe2\\x80\\xaeevil\\x07\\x7f\\x0d\\x09",
                      table)

    def test_quoting_in_cgroup_paths(self):
        absolute, relative = self.make_cgroup("we'ird \"na\\me\" $(x) {y}")
        self.register("quoted-path", "--level", "baseline", "--cgroup", absolute)
        shown = self.json_of("show", "quoted-path")
        self.assertEqual((shown["cgroup_path"], shown["cgroup_id"]),
                         (relative, os.stat(absolute).st_ino))
        values = {name: value for name, value, _ in fields_of(self.ctl("show", "quoted-path").stdout)}
        self.assertEqual(values["CgroupPath"], relative)

    def test_unprintable_cgroup_path_refused_in_one_safe_line(self):
        # lockcd takes printable ASCII cgroup paths only; its refusal
        # quotes the path, and lockcctl prints it without control bytes.
        absolute, _ = self.make_cgroup("evil\x1b]0;owned\x07\tname\x7f")
        result = self.ctl("register", "evil-path", "--level", "baseline", "--cgroup", absolute)
        self.assert_error(result, 1, "cannot register container evil-path: ", "\\x1b]0;owned")
        for control in TERMINAL_CONTROLS:
            self.assertNotIn(control, result.err)
        self.assertEqual(self.json_of("list"), [])


class ChangeTest(LockcdTestCase):
    CONFIG = '[defaults]\nlevel = "baseline"\nmode = "enforce"\n'

    def setUp(self):
        self.register("changed", "--level", "baseline", "--scope", "docker-changed.scope")

    def test_set_level(self):
        result = self.ctl("set-level", "changed", "restricted")
        self.assert_success(result)
        self.assertEqual(result.stdout, "changed: level restricted\n")
        self.assertEqual(self.json_of("show", "changed")["level"], "restricted")
        self.assertEqual(busctl_property(object_path("changed"), CONTAINER, "Level"), "restricted")
        self.assertEqual(self.json_of("list")[0]["level"], "restricted")

    def test_set_mode(self):
        result = self.ctl("set-mode", "changed", "audit")
        self.assert_success(result)
        self.assertEqual(result.stdout, "changed: mode audit\n")
        self.assertEqual(self.json_of("show", "changed")["mode"], "audit")
        self.assertEqual(busctl_property(object_path("changed"), CONTAINER, "Mode"), "audit")

    def test_quiet_and_json_print_nothing(self):
        for extra, level in ((["-q"], "privileged"), (["--quiet"], "restricted"),
                             (["--json"], "baseline")):
            with self.subTest(extra=extra):
                result = self.ctl("set-level", *extra, "changed", level)
                self.assert_success(result)
                self.assertEqual(result.out, b"")
                self.assertEqual(self.json_of("show", "changed")["level"], level)
        for args in (["set-mode", "changed", "audit"], ["set-default", "baseline"], ["reload"]):
            with self.subTest(args=args):
                self.assertEqual(self.ctl(*args, "-q").out, b"")
                self.assertEqual(self.ctl(*args, "--json").out, b"")

    def test_set_default(self):
        self.addCleanup(self.ctl, "reload")
        both = self.ctl("set-default", "restricted", "--mode", "audit")
        self.assert_success(both)
        self.assertEqual(both.stdout, "default level restricted\ndefault mode audit\n")
        status = self.json_of("status")
        self.assertEqual((status["default_level"], status["default_mode"]), ("restricted", "audit"))
        values = {name: value for name, value, _ in fields_of(self.ctl("status").stdout)}
        self.assertEqual((values["DefaultLevel"], values["DefaultMode"]), ("restricted", "audit"))
        mode_only = self.ctl("set-default", "--mode", "enforce")
        self.assertEqual(mode_only.stdout, "default mode enforce\n")
        status = self.json_of("status")
        self.assertEqual((status["default_level"], status["default_mode"]),
                         ("restricted", "enforce"))
        level_only = self.ctl("set-default", "privileged")
        self.assertEqual(level_only.stdout, "default level privileged\n")
        self.assertEqual(busctl_property(MANAGER_PATH, MANAGER, "DefaultLevel"), "privileged")

    def test_reload_goes_back_to_the_configuration(self):
        self.assert_success(self.ctl("set-default", "restricted", "--mode", "audit"))
        result = self.ctl("reload")
        self.assert_success(result)
        self.assertEqual(result.stdout, "lockcd reloaded its configuration\n")
        status = self.json_of("status")
        self.assertEqual((status["default_level"], status["default_mode"]), ("baseline", "enforce"))

    def test_reload_with_a_bad_configuration(self):
        self.addCleanup(self.ctl, "reload")
        self.addCleanup(self.lockcd.write_config, self.CONFIG)
        self.assert_success(self.ctl("set-default", "restricted"))
        self.lockcd.write_config('[defaults]\nlevle = "baseline"\n')
        result = self.ctl("reload")
        self.assert_error(result, 1, "lockcctl: cannot reload lockcd's configuration: ",
                          self.lockcd.config + ":2:", "levle")
        self.assertEqual(self.json_of("status")["default_level"], "restricted")

    def test_member_of_group_lockc_may_change(self):
        result = self.ctl("set-level", "changed", "restricted", "--no-ask-password", user=MEMBER)
        self.assert_success(result)
        self.assertEqual(self.json_of("show", "changed")["level"], "restricted")


class AuthorizationTest(LockcdTestCase):
    def setUp(self):
        self.register("guarded", "--level", "baseline", "--scope", "docker-guarded.scope")

    def test_outsider_may_read(self):
        for args in (["status", "--json"], ["list", "--json"], ["show", "guarded", "--json"],
                     ["list"], ["show", "guarded"]):
            with self.subTest(args=args):
                as_outsider = self.ctl(*args, user=OUTSIDER)
                self.assert_success(as_outsider)
                self.assertEqual(as_outsider.out, self.ctl(*args).out)

    def changes(self):
        return [
            (["set-level", "guarded", "restricted"], "change the level of container guarded"),
            (["set-mode", "guarded", "audit"], "change the mode of container guarded"),
            (["set-default", "restricted"], "change the default level"),
            (["set-default", "--mode", "audit"], "change the default mode"),
            (["register", "intruder", "--level", "privileged", "--scope", "docker-i.scope"],
             "register container intruder"),
            (["unregister", "guarded"], "unregister container guarded"),
            (["reload"], "reload lockcd's configuration"),
            (["monitor"], "receive denials"),
        ]

    def assert_nothing_changed(self):
        self.assertEqual(self.json_of("list"), [
            {"id": "guarded", "runtime": "", "level": "baseline", "mode": "enforce",
             "state": "pending", "denials": 0}])
        status = self.json_of("status")
        self.assertEqual((status["default_level"], status["default_mode"]), ("baseline", "enforce"))

    def test_outsider_refused_with_no_ask_password(self):
        for args, action in self.changes():
            with self.subTest(args=args):
                result = self.ctl(*args, "--no-ask-password", user=OUTSIDER)
                self.assert_error(result, 5, f"lockcctl: not authorised to {action} (",
                                  "); run as root, join group lockc, or drop --no-ask-password")
        self.assert_nothing_changed()

    def test_outsider_refused_without_a_terminal(self):
        for args, action in self.changes():
            with self.subTest(args=args):
                result = self.ctl(*args, user=OUTSIDER)
                self.assert_error(result, 5, f"not authorised to {action}",
                                  "; run as root, join group lockc, or run lockcctl on a "
                                  "terminal to authenticate")
        self.assert_nothing_changed()

    # A password agent needs a terminal: these run lockcctl on a
    # pseudo-terminal and watch polkit's bus traffic for the agent's
    # registration. Whether a password typed there is accepted cannot be
    # tested here: polkit uses a --fallback agent only for a subject that
    # has a logind session, and the test bus has no logind.
    AGENT_RULES = ("type='method_call',interface='org.freedesktop.PolicyKit1.Authority',"
                   "member='RegisterAuthenticationAgentWithOptions'",
                   "type='method_call',interface='org.freedesktop.PolicyKit1.Authority',"
                   "member='RegisterAuthenticationAgent'")

    def agent_registrations(self, monitor):
        return [m for m in monitor.snapshot() if m["type"] == "method call" and
                (m["member"] or "").startswith("RegisterAuthenticationAgent")]

    def test_no_agent_with_no_ask_password_on_a_terminal(self):
        monitor = DbusMonitor(*self.AGENT_RULES)
        self.addCleanup(monitor.stop)
        terminal = Terminal(as_user(OUTSIDER, [LOCKCCTL, "set-level", "guarded", "restricted",
                                               "--no-ask-password"]))
        self.assertEqual(terminal.finish(), 5, terminal.output)
        self.assertIn(b"drop --no-ask-password", terminal.output)
        self.assertNotIn(b"AUTHENTICATING", terminal.output)
        time.sleep(0.3)
        self.assertEqual(self.agent_registrations(monitor), [])
        self.assert_nothing_changed()

    def test_agent_started_for_a_change_on_a_terminal(self):
        monitor = DbusMonitor(*self.AGENT_RULES)
        self.addCleanup(monitor.stop)
        terminal = Terminal(as_user(OUTSIDER, [LOCKCCTL, "set-level", "guarded", "restricted"]))
        pid = terminal.process.pid  # setpriv execs lockcctl: the same pid
        self.assertEqual(terminal.finish(), 5, terminal.output)
        registrations = wait_for(lambda: self.agent_registrations(monitor),
                                 what="pkttyagent to register")
        self.assertEqual(len(registrations), 1)
        arguments = "\n".join(registrations[0]["args"])
        # pkttyagent --process <lockcctl's pid> --fallback
        self.assertIn('string "unix-process"', arguments)
        self.assertRegex(arguments, rf'string "pid"\s+variant\s+uint32 {pid}\b')
        self.assertRegex(arguments, r'string "fallback"\s+variant\s+boolean true')
        # interactive=true was sent: polkit says "not authorized" rather
        # than lockcd's "authentication is required" of a non-interactive
        # call; the advice is the one after an agent ran.
        self.assertIn(b"(not authorized for org.lockc.manager.set-container-policy); run as root "
                      b"or join group lockc", terminal.output)
        self.assertEqual(processes_named("pkttyagent"), [], "the agent is ended afterwards")
        self.assert_nothing_changed()

    def test_agent_ended_after_monitor_subscribes(self):
        # monitor blocks SIGINT and SIGTERM for itself: the agent must not
        # inherit that, or it could not be ended.
        monitor = DbusMonitor(*self.AGENT_RULES)
        self.addCleanup(monitor.stop)
        terminal = Terminal(as_user(OUTSIDER, [LOCKCCTL, "monitor"]))
        self.assertEqual(terminal.finish(timeout=10), 5, terminal.output)
        self.assertIn(b"not authorised to receive denials", terminal.output)
        self.assertEqual(len(wait_for(lambda: self.agent_registrations(monitor),
                                      what="pkttyagent to register")), 1)
        self.assertEqual(processes_named("pkttyagent"), [])

    def test_root_needs_no_agent(self):
        monitor = DbusMonitor(*self.AGENT_RULES)
        self.addCleanup(monitor.stop)
        terminal = Terminal([LOCKCCTL, "set-level", "guarded", "restricted"])
        self.assertEqual(terminal.finish(), 0, terminal.output)
        time.sleep(0.3)
        self.assertEqual(self.agent_registrations(monitor), [])
        self.assertEqual(self.json_of("show", "guarded")["level"], "restricted")


class UnreachableTest(LockcdTestCase):
    COMMANDS = [["status"], ["list"], ["show", "web"], ["set-level", "web", "restricted"],
                ["set-mode", "web", "audit"], ["set-default", "restricted"],
                ["register", "web", "--level", "baseline", "--scope", "docker-web.scope"],
                ["unregister", "web"], ["reload"], ["monitor"], ["status", "--json"],
                ["levels"], ["levels", "--json"],
                ["run", "--level", "baseline", "--", "true"]]

    def setUp(self):
        self.restart_lockcd_later()
        self.stop_lockcd()

    def test_lockcd_not_running(self):
        # The private bus has no activation: the call fails with
        # ServiceUnknown, as when systemd could not start lockcd.
        for args in self.COMMANDS:
            with self.subTest(args=args):
                result = self.ctl(*args, "--no-ask-password")
                self.assert_error(result, 6, "lockcctl: lockcd is not running and could not be "
                                  "started (", "org.lockc.Manager",
                                  "); see 'systemctl status lockcd'")

    def test_no_system_bus(self):
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=f"unix:path={self.dir}/no-such-socket")
        for args in (["status"], ["set-level", "web", "restricted"]):
            with self.subTest(args=args):
                self.assert_error(self.ctl(*args, env=env), 6,
                                  "lockcctl: cannot connect to the system bus")

    def test_usage_errors_need_no_lockcd(self):
        self.assert_error(self.ctl("set-level", "web", "bogus"), 2, "unknown level 'bogus'")
        self.assert_success(self.ctl("--help"))


# ---- monitor ---------------------------------------------------------------------

class MonitorTest(LockcdTestCase):
    """monitor against the real lockcd: it subscribes, prints nothing
    without denials, ends promptly on SIGINT or SIGTERM with status 0 and
    unsubscribes. (DeniedBatch output: MonitorOutputTest, with a stand-in.)"""

    RULES = ("type='method_call',interface='org.lockc.Manager'", "type='method_return'",
             "type='error'", "type='signal',interface='org.lockc.Manager'")

    def setUp(self):
        self.bus = DbusMonitor(*self.RULES)
        self.addCleanup(self.bus.stop)

    def start_monitor(self, *args):
        process = subprocess.Popen([LOCKCCTL, "monitor", *args], stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.addCleanup(MonitorOutputTest.end, process)
        subscribe = wait_for(lambda: self.bus.calls("SubscribeDenials"),
                             what="monitor to subscribe")[-1]
        reply = wait_for(lambda: self.bus.reply_to(subscribe), what="lockcd's answer")
        self.assertEqual(reply["type"], "method return", "the subscription was accepted")
        self.assertEqual(subscribe["destination"], BUS_NAME)
        # Batches: a flood of denials reaches the monitor instead of being
        # suppressed at lockcd's queue to the bus.
        args = subscribe["args"]
        self.assertIn('string "batched"', args)
        self.assertIn("boolean true", args[args.index('string "batched"') + 1])
        return process, subscribe["sender"]

    def end_monitor(self, process, signum):
        time.sleep(0.2)
        self.assertIsNone(process.poll(), "monitor keeps running")
        start = time.monotonic()
        process.send_signal(signum)
        out, err = process.communicate(timeout=5)
        self.assertLess(time.monotonic() - start, 2, "monitor ends promptly")
        return process.returncode, out, err

    def assert_unsubscribed(self, sender, daemon):
        unsubscribe = wait_for(lambda: [c for c in self.bus.calls("UnsubscribeDenials")
                                        if c["sender"] == sender], what="UnsubscribeDenials")
        self.assertEqual(len(unsubscribe), 1)
        # To lockcd's unique name: a stopped lockcd is not started again
        # just to be told.
        self.assertEqual(unsubscribe[0]["destination"], daemon)
        reply = wait_for(lambda: self.bus.reply_to(unsubscribe[0]), what="lockcd's answer")
        self.assertEqual(reply["type"], "method return")

    def test_sigint(self):
        daemon = name_owner()
        process, sender = self.start_monitor("--json", "web", "db")
        status, out, err = self.end_monitor(process, signal.SIGINT)
        self.assertEqual((status, out, err), (0, b"", b""))
        self.assert_unsubscribed(sender, daemon)

    def test_sigterm(self):
        daemon = name_owner()
        process, sender = self.start_monitor()
        status, out, err = self.end_monitor(process, signal.SIGTERM)
        self.assertEqual((status, out, err), (0, b"", b""))
        self.assert_unsubscribed(sender, daemon)

    def test_forged_denied_signal_is_ignored(self):
        process, sender = self.start_monitor("--json")
        # Any peer may send this connection a signal; only lockcd's count.
        forger = dbus_wire.Connection()
        self.addCleanup(forger.close)
        dbus_wire.send_denied(forger, sender, {
            "container": "web", "level": "baseline", "mode": "enforce", "hook": "sb_mount",
            "target": "/forged", "pid": 1, "uid": 0, "comm": "forger", "errno": 1,
            "time_usec": 1})
        wait_for(lambda: [m for m in self.bus.snapshot() if m["member"] == "DeniedBatch"],
                 what="the forged signal to be sent")
        status, out, err = self.end_monitor(process, signal.SIGINT)
        self.assertEqual((status, out, err), (0, b"", b""))

    def test_subscribes_again_when_lockcd_restarts(self):
        self.restart_lockcd_later()
        process, sender = self.start_monitor()
        self.stop_lockcd()
        self.lockcd.start()
        daemon = name_owner()
        wait_for(lambda: len([c for c in self.bus.calls("SubscribeDenials")
                              if c["sender"] == sender]) == 2, what="a second subscription")
        status, out, err = self.end_monitor(process, signal.SIGTERM)
        self.assertEqual((status, out), (0, b""))
        self.assertEqual(err.decode().splitlines(), [
            "lockcctl: lockcd stopped; waiting for it to start again (Ctrl+C ends lockcctl)",
            "lockcctl: lockcd started again; receiving its denials"])
        self.assert_unsubscribed(sender, daemon)


class MonitorOutputTest(unittest.TestCase):
    """monitor's output, from a stand-in for lockcd (dbus_wire.py) that
    owns org.lockc.Manager and sends DeniedBatch as the API documents: lockcd
    cannot produce denials on this host, and only one process can own the
    name, so this class runs no lockcd."""

    def setUp(self):
        self.stand_in = dbus_wire.DenialStandIn()
        self.addCleanup(self.stand_in.close)

    def denial(self, **changes):
        denial = {"container": "web", "level": "baseline", "mode": "enforce", "hook": "sb_mount",
                  "target": "/proc/sys", "pid": 4242, "uid": 0, "comm": "mount", "errno": 1,
                  "time_usec": 1700000000123456}
        denial.update(changes)
        return denial

    def start_monitor(self, *args, env=None):
        """Starts monitor; returns it and its unique bus name."""
        earlier = len(self.stand_in.subscribers())
        process = subprocess.Popen([LOCKCCTL, "monitor", *args], stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        self.addCleanup(self.end, process)
        wait_for(lambda: len(self.stand_in.subscribers()) > earlier, what="monitor to subscribe")
        return process, self.stand_in.subscribers()[-1]

    @staticmethod
    def end(process):
        if process.poll() is None:
            process.kill()
        process.communicate()

    def read_lines(self, process, count):
        """The next `count` lines of stdout (read unbuffered: select() must
        see what is not read yet)."""
        data = b""
        deadline = time.monotonic() + 5
        while data.count(b"\n") < count and time.monotonic() < deadline:
            ready, _, _ = select.select([process.stdout], [], [], 0.1)
            if ready:
                chunk = os.read(process.stdout.fileno(), 65536)
                if not chunk:
                    break
                data += chunk
        lines = data.splitlines(keepends=True)
        self.assertEqual(len(lines), count, lines)
        return lines

    def stop(self, process):
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=5)
        self.assertEqual(process.returncode, 0, err)
        self.assertEqual(err, b"")
        return out

    def test_human_line(self):
        process, sender = self.start_monitor()
        enforced = self.denial()
        audited = self.denial(container="db", mode="audit", hook="file_open",
                              target="/etc/shadow", pid=7, uid=1000, comm="cat", errno=0,
                              time_usec=1700000001000999)
        self.stand_in.deny(sender, enforced)
        self.stand_in.deny(sender, audited)
        lines = self.read_lines(process, 2)
        self.assertEqual(lines[0].decode(), local_time(enforced["time_usec"], True) +
                         " web sb_mount enforce /proc/sys pid 4242 (mount) uid 0\n")
        self.assertEqual(lines[1].decode(), local_time(audited["time_usec"], True) +
                         " db file_open audit /etc/shadow pid 7 (cat) uid 1000\n")
        self.assertEqual(self.stop(process), b"")
        wait_for(lambda: self.stand_in.unsubscribers() == [sender], what="UnsubscribeDenials")

    def test_json_objects(self):
        process, sender = self.start_monitor("--json")
        denials = [self.denial(), self.denial(container="x", target="", errno=0, mode="audit",
                                              uid=4294967295, time_usec=18446744073709551615)]
        self.stand_in.deny(sender, *denials)  # one batch, a line each
        lines = self.read_lines(process, 2)
        for line, denial in zip(lines, denials):
            parsed = json.loads(line)
            self.assertEqual(set(parsed), MONITOR_JSON_FIELDS)
            self.assertEqual(parsed, denial)
        self.stop(process)

    def test_only_the_named_containers(self):
        process, sender = self.start_monitor("web", "db", "--json")
        self.stand_in.deny(sender, *[self.denial(container=container)
                                     for container in ("other", "web", "web2", "db", "we")])
        lines = self.read_lines(process, 2)
        self.assertEqual([json.loads(line)["container"] for line in lines], ["web", "db"])
        time.sleep(0.3)
        self.assertEqual(self.stop(process), b"")

    def test_hostile_target_and_comm(self):
        target = "/tmp/\x1b[2J\x1b]0;owned\x07\n\x9b1m\u202eevil\"\\'"
        comm = "a\"b\\c\x1b\x7f"
        process, sender = self.start_monitor()
        self.stand_in.deny(sender, self.denial(target=target, comm=comm))
        line = self.read_lines(process, 1)[0]
        for control in TERMINAL_CONTROLS:
            self.assertNotIn(control, line)
        self.assertTrue(line.endswith(b"uid 0\n"))
        self.assertIn(b"/tmp/\\x1b[2J\\x1b]0;owned\\x07\\x0a\\xc2\\x9b1m\\xe2\\x80\\xaeevil\"\\'",
                      line)
        self.assertIn(b"(a\"b\\c\\x1b\\x7f)", line)
        self.stop(process)
        process, sender = self.start_monitor("--json")
        self.stand_in.deny(sender, self.denial(target=target, comm=comm))
        line = self.read_lines(process, 1)[0]
        for control in TERMINAL_CONTROLS:
            self.assertNotIn(control, line)
        parsed = json.loads(line)
        self.assertEqual((parsed["target"], parsed["comm"]), (target, comm))
        self.stop(process)

    def test_signals_from_others_are_ignored(self):
        process, sender = self.start_monitor("--json")
        forger = dbus_wire.Connection()
        self.addCleanup(forger.close)
        dbus_wire.send_denied(forger, sender, self.denial(container="forged"))
        time.sleep(0.3)
        self.stand_in.deny(sender, self.denial(container="genuine"))
        lines = self.read_lines(process, 1)
        self.assertEqual(json.loads(lines[0])["container"], "genuine")
        time.sleep(0.3)
        self.assertEqual(self.stop(process), b"")

    def test_red_for_enforce_on_a_terminal(self):
        for no_color in (False, True):
            with self.subTest(no_color=no_color):
                env = dict(os.environ)
                env.pop("NO_COLOR", None)
                if no_color:
                    env["NO_COLOR"] = "1"
                earlier = len(self.stand_in.subscribers())
                terminal = Terminal([LOCKCCTL, "monitor"], env=env)
                wait_for(lambda: len(self.stand_in.subscribers()) > earlier,
                         what="monitor to subscribe")
                sender = self.stand_in.subscribers()[-1]
                self.stand_in.deny(sender, self.denial())
                self.stand_in.deny(sender, self.denial(mode="audit", container="db"))
                time.sleep(0.5)
                terminal.process.send_signal(signal.SIGTERM)
                self.assertEqual(terminal.finish(), 0, terminal.output)
                lines = terminal.output.split(b"\r\n")
                if no_color:
                    self.assertNotIn(b"\x1b", terminal.output)
                else:
                    self.assertTrue(lines[0].startswith(b"\x1b[31m"), lines)
                    self.assertTrue(lines[0].endswith(b"\x1b[0m"), lines)
                    self.assertNotIn(b"\x1b", lines[1])
                self.assertIn(b" db sb_mount audit ", lines[1])

    def test_stdout_closed_ends_monitor(self):
        process, sender = self.start_monitor()
        process.stdout.close()
        self.stand_in.deny(sender, self.denial())
        self.assertEqual(process.wait(timeout=5), 0)
        wait_for(lambda: self.stand_in.unsubscribers() == [sender], what="UnsubscribeDenials")


# ---- run ---------------------------------------------------------------------------

RUN = ["run", "--level", "baseline"]
RUN_RULES = ("type='method_call',interface='org.lockc.Manager'", "type='method_return'",
             "type='error'")


class RunTest(LockcdTestCase):
    """run against the real lockcd, which has no systemd on the test bus:
    everything up to lockcd's answer. (What lockcctl does after a
    successful answer: RunStandInTest; the real scope: tests/vm.)"""

    def setUp(self):
        self.bus = DbusMonitor(*RUN_RULES)
        self.addCleanup(self.bus.stop)
        # The command run would run, if it ran: it leaves a file behind.
        self.marker = os.path.join(self.dir, "ran")
        self.addCleanup(lambda: os.path.exists(self.marker) and os.unlink(self.marker))

    def command(self):
        return ["touch", self.marker]

    def assert_not_run(self):
        time.sleep(0.1)
        self.assertFalse(os.path.exists(self.marker), "the command must not run")
        self.assertEqual(self.json_of("list"), [], "lockcd must not keep a container")

    def test_usage_errors_send_nothing(self):
        cases = [
            (["run", "--", "true"], "run needs --level LEVEL"),
            (["run", "true"], "run needs --level LEVEL"),
            (["run", "--level", "baseline"], "run needs a command: lockcctl run --level LEVEL"),
            (["run", "--level", "baseline", "--"], "run needs a command"),
            (["run", "--mode", "audit", "--level", "baseline", "--unit", "x.scope"],
             "run needs a command"),
            (["run", "--level", "strict", "--", "true"], "unknown level 'strict'"),
            (["run", "--level", "baseline", "--mode", "loud", "true"], "unknown mode 'loud'"),
            (["run", "--level", "baseline", "--unit", "web", "true"],
             "--unit needs a scope unit name"),
            (["run", "--level", "baseline", "--unit", "web.service", "true"],
             "--unit needs a scope unit name"),
            (["run", "--level", "baseline", "--unit", ".scope", "true"],
             "--unit needs a scope unit name"),
            (["run", "--level", "baseline", "--unit", "a b.scope", "true"],
             "not 'a b.scope'"),
            (["run", "--level", "baseline", "--unit", "../x.scope", "true"],
             "--unit needs a scope unit name"),
            (["run", "--level", "baseline", "--unit", "x" * 122 + ".scope", "true"],
             "at most 127 bytes"),
            (["run", "--level", "baseline", "--unit", "web\x1b[2J.scope", "true"],
             "not 'web\\x1b[2J.scope'"),
            (["run", "--level", "baseline", "--unit"], "option --unit needs a value"),
            (["run", "--level", "baseline", "--scope", "x.scope", "true"],
             "option --scope is not valid for 'run'"),
            (["run", "--level", "baseline", "--frob", "true"], "unknown option '--frob'"),
            (["run", "--level", "baseline", "--description", b"caf\xff", "true"],
             "argument 5 is not valid UTF-8"),
            (["show", "web", "--unit", "x.scope"], "option --unit is not valid for 'show'"),
        ]
        for args, fragment in cases:
            with self.subTest(args=args):
                result = self.ctl(*args)
                self.assert_error(result, 2, fragment, "; see 'lockcctl --help'")
        # 127 bytes is the longest name lockcctl takes.
        longest = self.ctl(*RUN, "--unit", "x" * 121 + ".scope", "--", *self.command())
        self.assertEqual(longest.code, 1, longest)
        self.assertEqual(len(wait_for(lambda: self.bus.calls("RunConfined"),
                                      what="the one valid call")), 1,
                         "only the valid invocation reached lockcd")
        self.assert_not_run()

    def test_help_mentions_run(self):
        result = self.ctl("--help")
        self.assert_success(result)
        self.assertIn("run --level LEVEL [--mode MODE] [--unit NAME] [--description TEXT]",
                      result.stdout)
        self.assertIn("127", result.stdout)
        self.assertIn("126", result.stdout)

    def test_outsider_not_authorised(self):
        for global_options, hint in (
                (["--no-ask-password"], "run as root, join group lockc, or drop "
                                        "--no-ask-password"),
                ([], "run as root, join group lockc, or run lockcctl on a terminal to "
                     "authenticate")):
            with self.subTest(global_options=global_options):
                result = self.ctl(*global_options, *RUN, "--", *self.command(), user=OUTSIDER)
                self.assert_error(result, 5, "lockcctl: not authorised to run a command "
                                  "confined by lockc (", "org.lockc.manager.run-confined", hint)
        # dbus-monitor reports asynchronously: the second call may show a
        # moment after lockcctl has returned.
        wait_for(lambda: len(self.bus.calls("RunConfined")) >= 2, what="both calls")
        self.assertEqual(len(self.bus.calls("RunConfined")), 2)
        self.assert_not_run()

    def test_without_systemd(self):
        # lockcd answers org.lockc.Error.Failed: there is no systemd on the
        # test bus to make the scope. Root and members of group lockc get
        # that far.
        for count, user in enumerate((None, MEMBER), start=1):
            with self.subTest(user=user):
                result = self.ctl("--no-ask-password", *RUN, "--", *self.command(), user=user)
                self.assert_error(result, 1, "lockcctl: cannot run a command confined by "
                                  "lockc: ", "systemd")
                # This user's call, not the one before it (dbus-monitor
                # reports asynchronously).
                wait_for(lambda n=count: len(self.bus.calls("RunConfined")) >= n,
                         what="this user's RunConfined")
                call = self.bus.calls("RunConfined")[count - 1]
                reply = wait_for(lambda: self.bus.reply_to(call), what="lockcd's answer")
                self.assertEqual((reply["type"], reply.get("error_name")),
                                 ("error", "org.lockc.Error.Failed"))
        self.assert_not_run()

    def test_arguments_sent(self):
        result = self.ctl("-q", "run", "--mode", "audit", "--level", "restricted",
                          "--unit", "web-1.scope", "--description", "the web",
                          "--", *self.command())
        self.assertEqual(result.code, 1, result)
        call = wait_for(lambda: self.bus.calls("RunConfined"), what="RunConfined")[-1]
        self.assertEqual(call["path"], MANAGER_PATH)
        self.assertEqual(call["destination"], BUS_NAME)
        arguments = "\n".join(call["args"])
        self.assertRegex(arguments, r'^string "restricted"\nstring "audit"\narray \[')
        self.assertRegex(arguments, r'string "unit"\s+variant\s+string "web-1.scope"')
        self.assertRegex(arguments, r'string "description"\s+variant\s+string "the web"')
        self.assertRegex(arguments, r'string "interactive"\s+variant\s+boolean false')
        self.assert_not_run()


def read_vardict(reader):
    """An a{sv} of strings and booleans, from a dbus_wire.Reader."""
    length = reader.uint32()
    reader.align(8)
    end = reader.pos + length
    values = {}
    while reader.pos < end:
        reader.align(8)
        key = reader.string()
        signature = reader.signature()
        if signature == "s":
            values[key] = reader.string()
        elif signature == "b":
            values[key] = bool(reader.uint32())
        else:
            raise ValueError(f"option {key} has type {signature}")
    return values


def reply_string_variant(connection, call, value):
    """A method return with one variant holding a string (dbus_wire writes
    no variants: the body is written as "gs", the header says "v")."""
    body = dbus_wire.Writer()
    body.body("gs", ["s", value])
    fields = {dbus_wire.FIELD_REPLY_SERIAL: ("u", call.serial),
              dbus_wire.FIELD_DESTINATION: ("s", call.sender),
              dbus_wire.FIELD_SIGNATURE: ("g", "v")}
    with connection.send_lock:
        connection.serial += 1
        header = dbus_wire.encode_message(dbus_wire.METHOD_RETURN, connection.serial, fields)
        # The header with an empty body; then the body length filled in.
        connection.sock.sendall(header[:4] + struct.pack("<I", len(body.data)) + header[8:]
                                + bytes(body.data))


class RunConfinedStandIn:
    """Owns org.lockc.Manager and answers RunConfined as lockcd does with
    systemd: after the answer, the caller is moved into a cgroup named after
    the unit (a plain cgroup v2 directory: there is no systemd here), and the
    container's State becomes "active" after `pending_gets` reads.
      move=False          never move the caller
      final_state="..."   the State after the pending reads"""

    CONTAINER_PATH = "/org/lockc/Manager/container/run_5ftest"

    def __init__(self, move=True, move_delay=0.2, pending_gets=2, final_state="active"):
        self.move = move
        self.move_delay = move_delay
        self.pending_gets = pending_gets
        self.final_state = final_state
        self.parent = f"{cgroup2_mount()}/lockcctl-run-test-{os.getpid()}"
        os.makedirs(self.parent, exist_ok=True)
        self.connection = dbus_wire.Connection()
        deadline = time.monotonic() + 5
        while self.connection.call("org.freedesktop.DBus", "/org/freedesktop/DBus",
                                   "org.freedesktop.DBus", "RequestName", "su",
                                   [BUS_NAME, 4]) != 1:  # DO_NOT_QUEUE; 1: the owner
            if time.monotonic() > deadline:
                self.connection.close()
                raise RuntimeError("could not own org.lockc.Manager (is lockcd running?)")
            time.sleep(0.05)
        self.lock = threading.Lock()
        self.calls = []  # RunConfined: {"level", "mode", "options", "pid"}
        self.gets = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                message = (self.connection.pending.pop(0) if self.connection.pending
                           else self.connection.read_message())
            except (EOFError, OSError):
                return
            if message.kind != dbus_wire.METHOD_CALL:
                continue
            try:
                self._answer(message)
            except Exception as e:  # pylint: disable=broad-except
                try:
                    self.connection.reply_error(message, "org.lockc.Error.Failed",
                                                f"stand-in: {e}")
                except OSError:
                    return  # closed

    def _answer(self, message):
        if message.member == "RunConfined":
            self._run_confined(message)
        elif message.member == "Get" and \
                message.fields.get(dbus_wire.FIELD_PATH) == self.CONTAINER_PATH:
            with self.lock:
                self.gets += 1
                gets = self.gets
            reply_string_variant(self.connection, message,
                                 "pending" if gets <= self.pending_gets else self.final_state)
        else:
            self.connection.reply_error(message, "org.freedesktop.DBus.Error.UnknownMethod",
                                        "the stand-in knows RunConfined and State only")

    def _run_confined(self, message):
        reader = dbus_wire.Reader(message.body)
        level, mode = reader.string(), reader.string()
        options = read_vardict(reader)
        pid = self.connection.call("org.freedesktop.DBus", "/org/freedesktop/DBus",
                                   "org.freedesktop.DBus", "GetConnectionUnixProcessID", "s",
                                   [message.sender])
        unit = options.get("unit", "lockc-run-test.scope")
        cgroup = os.path.join(self.parent, unit)
        os.makedirs(cgroup, exist_ok=True)
        with self.lock:
            self.calls.append({"level": level, "mode": mode, "options": options, "pid": pid})
        self.connection.reply(message, "os", [self.CONTAINER_PATH, unit])
        if self.move:
            def move():
                with open(os.path.join(cgroup, "cgroup.procs"), "w", encoding="ascii") as procs:
                    procs.write(str(pid))
            threading.Timer(self.move_delay, move).start()

    def close(self):
        self.connection.close()
        self.thread.join(timeout=5)
        for entry in os.scandir(self.parent):
            if entry.is_dir():
                remove_cgroup(entry.path)
        remove_cgroup(self.parent)


class RunStandInTest(unittest.TestCase):
    """What `lockcctl run` does once lockcd has answered RunConfined: wait
    until it is in the scope's cgroup and the container is active, close the
    bus connection and become the command. lockcd cannot make scopes without
    systemd, so a stand-in answers (RunConfinedStandIn); this class runs no
    lockcd."""

    def stand_in(self, **kwargs):
        stand_in = RunConfinedStandIn(**kwargs)
        self.addCleanup(stand_in.close)
        return stand_in

    def marker(self):
        """A path the command would create, if it ran."""
        directory = tempfile.mkdtemp(prefix="lockcctl-run-test.")
        self.addCleanup(shutil.rmtree, directory, ignore_errors=True)
        return os.path.join(directory, "ran")

    @staticmethod
    def run_ctl(*args, stdin=subprocess.DEVNULL, timeout=30):
        completed = subprocess.run([LOCKCCTL, *args], stdin=stdin, capture_output=True,
                                   timeout=timeout, check=False)
        return Result(completed.returncode, completed.stdout, completed.stderr)

    def test_becomes_the_command_in_the_scope(self):
        stand_in = self.stand_in()
        result = self.run_ctl(*RUN, "--", "sh", "-c",
                              "echo pid $$; cat /proc/self/cgroup; echo to-stderr >&2; exit 7")
        self.assertEqual(result.code, 7, result)
        self.assertEqual(result.err, b"to-stderr\n")
        lines = result.stdout.splitlines()
        self.assertEqual(len(stand_in.calls), 1)
        call = stand_in.calls[0]
        self.assertEqual((call["level"], call["mode"], call["options"]),
                         ("baseline", "", {"interactive": False}))
        # The same process: lockcctl became the command (exec, no fork).
        self.assertEqual(lines[0], f"pid {call['pid']}")
        relative = stand_in.parent[len(cgroup2_mount()):]
        self.assertIn(f"0::{relative}/lockc-run-test.scope", lines[1:])
        self.assertGreaterEqual(stand_in.gets, 3, "lockcctl waited for State active")

    def test_exit_status_passes_through(self):
        self.stand_in(pending_gets=0)
        for status in (0, 1, 2, 5, 126, 127, 255):
            with self.subTest(status=status):
                result = self.run_ctl(*RUN, "sh", "-c", f"exit {status}")
                self.assertEqual((result.code, result.out, result.err), (status, b"", b""))
        killed = self.run_ctl(*RUN, "--", "sh", "-c", "kill -TERM $$")
        self.assertEqual(killed.code, -signal.SIGTERM)

    def test_options_sent_and_nothing_printed(self):
        stand_in = self.stand_in(pending_gets=0)
        for global_options in (["-q"], ["--json"], ["--no-ask-password"]):
            with self.subTest(global_options=global_options):
                unit = f"web-{len(stand_in.calls)}.scope"
                result = self.run_ctl(*global_options, "run", "--mode", "audit", "--level",
                                      "restricted", "--unit", unit, "--description",
                                      "the web, tested", "--", "echo", "hello")
                self.assertEqual((result.code, result.out, result.err), (0, b"hello\n", b""))
                self.assertEqual(stand_in.calls[-1]["options"],
                                 {"interactive": False, "unit": unit,
                                  "description": "the web, tested"})
                self.assertEqual((stand_in.calls[-1]["level"], stand_in.calls[-1]["mode"]),
                                 ("restricted", "audit"))

    def test_command_line_is_the_commands(self):
        self.stand_in(pending_gets=0)
        # From the first word that is not an option on, every argument is
        # the command's, as it is: options, "--", bytes that are not UTF-8.
        result = self.run_ctl("run", "--level=baseline", "printf", "%s|", "-x", "--help",
                              "--level", "--", "a b", b"caf\xff", "")
        self.assertEqual((result.code, result.out, result.err),
                         (0, b"-x|--help|--level|--|a b|caf\xff||", b""))
        dashed = self.run_ctl(*RUN, "--", "-no-such-command")
        self.assertEqual(dashed.code, 127, dashed)

    def test_stdio_untouched_and_no_bus_connection_inherited(self):
        self.stand_in(pending_gets=0)
        script = 'cat; for fd in /proc/$$/fd/*; do echo "${fd##*/} $(readlink "$fd")"; done'
        with tempfile.TemporaryFile() as stdin:
            stdin.write(b"from stdin\n")
            stdin.seek(0)
            result = self.run_ctl(*RUN, "--", "sh", "-c", script, stdin=stdin)
        self.assertEqual(result.code, 0, result)
        lines = result.stdout.splitlines()
        self.assertEqual(lines[0], "from stdin")
        descriptors = dict(line.split(" ", 1) for line in lines[1:])
        self.assertTrue(descriptors["1"].startswith("pipe:"), descriptors)
        self.assertTrue(descriptors["2"].startswith("pipe:"), descriptors)
        self.assertFalse([target for target in descriptors.values()
                          if target.startswith("socket:")], descriptors)

    def test_command_not_found_or_not_executable(self):
        self.stand_in(pending_gets=0)
        with tempfile.TemporaryDirectory() as directory:
            not_executable = os.path.join(directory, "not-executable")
            with open(not_executable, "w", encoding="ascii") as f:
                f.write("#!/bin/sh\n")
            os.chmod(not_executable, 0o644)
            for command, status, error in (
                    ("lockcctl-no-such-command", 127, "No such file or directory"),
                    (os.path.join(directory, "missing"), 127, "No such file or directory"),
                    (not_executable, 126, "Permission denied"),
                    (directory, 126, "Permission denied")):
                with self.subTest(command=command):
                    result = self.run_ctl(*RUN, "--", command, "arg")
                    self.assertEqual((result.code, result.out, result.stderr),
                                     (status, b"", f"lockcctl: {command}: {error}\n"))

    def test_not_moved_into_the_scope(self):
        marker = self.marker()
        self.stand_in(move=False)
        start = time.monotonic()
        result = self.run_ctl(*RUN, "--", "touch", marker)
        self.assertEqual((result.code, result.out, result.stderr),
                         (1, b"", "lockcctl: systemd did not move lockcctl into "
                                  "lockc-run-test.scope; not running the command unconfined\n"))
        self.assertGreaterEqual(time.monotonic() - start, 9.5, "lockcctl waits 10 s")
        self.assertFalse(os.path.exists(marker))

    def test_container_not_active(self):
        marker = self.marker()
        self.stand_in(final_state="gone")
        result = self.run_ctl(*RUN, "--", "touch", marker)
        self.assertEqual((result.code, result.out, result.stderr),
                         (1, b"", "lockcctl: lockcd did not confine lockc-run-test.scope (its "
                                  "container is gone); not running the command unconfined\n"))
        self.assertFalse(os.path.exists(marker))

    def test_on_a_terminal_no_pager(self):
        stand_in = self.stand_in(pending_gets=0)
        env = dict(os.environ, PAGER="sed s/^/PAGED:/", SYSTEMD_PAGERSECURE="0")
        terminal = Terminal([LOCKCCTL, *RUN, "--", "sh", "-c", "tty; echo done"], env=env)
        self.assertEqual(terminal.finish(), 0, terminal.output)
        lines = terminal.output.decode().split("\r\n")
        self.assertTrue(lines[0].startswith("/dev/pts/"), lines)
        self.assertEqual(lines[1], "done")
        self.assertNotIn("PAGED:", terminal.output.decode())
        # stdin is a terminal: polkit may ask (root has no agent to start).
        self.assertEqual(stand_in.calls[0]["options"], {"interactive": True})


# ---- pager and colours -----------------------------------------------------------

class PagerTest(LockcdTestCase):
    """list, show and status go through a pager on a terminal only."""

    def setUp(self):
        self.register("paged", "--level", "baseline", "--scope", "docker-paged.scope")

    def on_terminal(self, *args, secure=None, **env_changes):
        env = dict(os.environ)
        for name in ("SYSTEMD_PAGER", "PAGER", "LESS", "LESSSECURE", "NO_COLOR",
                     "SYSTEMD_PAGERSECURE", "SUDO_UID", "PKEXEC_UID"):
            env.pop(name, None)
        # The tests run as root, where secure mode is the default; most of
        # them check the pager choice, so they opt out unless asked.
        if secure is None:
            env["SYSTEMD_PAGERSECURE"] = "0"
        env.update(env_changes)
        terminal = Terminal([LOCKCCTL, *args], env=env)
        self.assertEqual(terminal.finish(), 0, terminal.output)
        return terminal.output.decode().split("\r\n")

    def test_pager_on_a_terminal(self):
        marker = "sed s/^/PAGED:/"
        for args in (["list"], ["show", "paged"], ["status"], ["list", "--json"]):
            with self.subTest(args=args):
                lines = [line for line in self.on_terminal(*args, PAGER=marker) if line]
                self.assertTrue(lines)
                self.assertTrue(all(line.startswith("PAGED:") for line in lines), lines)
                unpaged = [line for line in self.on_terminal(*args, "--no-pager", PAGER=marker)
                           if line]
                self.assertFalse(any(line.startswith("PAGED:") for line in unpaged), unpaged)

    def test_pager_choice_and_less_options(self):
        lines = self.on_terminal("list", PAGER="sed s/^/PAGER:/",
                                 SYSTEMD_PAGER="sed s/^/SYSTEMD_PAGER:/")
        self.assertTrue(lines[0].startswith("SYSTEMD_PAGER:"), lines)
        lines = self.on_terminal("status", PAGER='sh -c "echo LESS=$LESS; cat >/dev/null"')
        self.assertEqual(lines[0], "LESS=FRSXMK")
        lines = self.on_terminal("status", LESS="X", PAGER='sh -c "echo LESS=$LESS; cat >/dev/null"')
        self.assertEqual(lines[0], "LESS=X")
        for no_pager in ("", "cat"):
            lines = self.on_terminal("status", PAGER=no_pager)
            self.assertTrue(lines[0].startswith("Version:"), lines)

    def test_secure_mode_runs_only_less_without_shell_escapes(self):
        # As root (and under sudo or pkexec) a pager's shell escape would be
        # a root shell: only less runs, with LESSSECURE=1, whatever PAGER
        # says. A stand-in "less" first in PATH shows what was run.
        with tempfile.TemporaryDirectory() as bin_dir:
            fake_less = os.path.join(bin_dir, "less")
            with open(fake_less, "w") as f:
                f.write("#!/bin/sh\necho FAKE-LESS LESSSECURE=$LESSSECURE\ncat >/dev/null\n")
            os.chmod(fake_less, 0o755)
            path = bin_dir + ":" + os.environ.get("PATH", "/usr/bin:/bin")
            lines = self.on_terminal("status", secure=True, PATH=path, PAGER="sed s/^/PAGED:/")
            self.assertEqual(lines[0], "FAKE-LESS LESSSECURE=1", lines)
            lines = self.on_terminal("status", secure=True, PATH=path, PAGER="sed s/^/PAGED:/",
                                     SYSTEMD_PAGERSECURE="0")
            self.assertTrue(lines[0].startswith("PAGED:"), lines)

    def test_no_pager_for_changes_and_pipes(self):
        lines = self.on_terminal("set-level", "paged", "restricted", PAGER="sed s/^/PAGED:/")
        self.assertEqual(lines[0], "paged: level restricted")
        piped = lockcctl("list", env=dict(os.environ, PAGER="sed s/^/PAGED:/"))
        self.assertNotIn(b"PAGED:", piped.out)
        self.assertNotIn(b"\x1b", piped.out, "no colours into a pipe")

    def test_bold_header_unless_no_color(self):
        lines = self.on_terminal("list", "--no-pager")
        self.assertTrue(lines[0].startswith("\x1b[1mID "), lines)
        self.assertTrue(lines[0].endswith("\x1b[0m"), lines)
        lines = self.on_terminal("list", "--no-pager", NO_COLOR="1")
        self.assertTrue(lines[0].startswith("ID "), lines)
        self.assertNotIn("\x1b", "".join(lines))


if __name__ == "__main__":
    unittest.main()
