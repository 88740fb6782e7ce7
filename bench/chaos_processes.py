#!/usr/bin/env python3
"""The processes of bench/chaos and what it does to them (python3 standard library only):
the worker slots it SIGKILLs and restarts, the private Redis it restarts and stops, the
Temporal dev server it restarts on its state file, the private Postgres cluster it stops and
starts (and whose connections it terminates), the fake model it switches to 503; plus what
it reads from them afterwards (logs, histories). bench/chaos.py drives them.
"""

import collections
import datetime
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gone(pid):
    """True once the pid is gone or a zombie (killed, not yet reaped by its parent)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, IndexError, ProcessLookupError):
        return True


def port_answers(port, timeout=0.5):
    """Whether something accepts TCP connections on the loopback port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until(condition, seconds, every=0.05):
    """Polls `condition()` until it is true or `seconds` pass; returns its last value."""
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(every)


def redis_answers(port, timeout=0.5):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def iso(ms):
    return datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.timezone.utc).strftime(
        "%H:%M:%S.%f")[:-3] + "Z"


class Proc:
    """A worker slot, the Redis or the Temporal dev server: the process now running it."""

    def __init__(self, name, pid, popen=None, log=None):
        self.name = name
        self.pid = pid
        self.popen = popen  # None: started by bench/chaos, not a child of this script
        self.log = log
        self.generation = 1


class PrivatePostgres:
    """The Postgres cluster bench/chaos made for this run (`initdb` in a folder of its own,
    its settings in its postgresql.conf), stopped and started with pg_ctl, as the `postgres`
    user when this script runs as root (the server refuses to run as root)."""

    def __init__(self, bin_dir, data_dir, port):
        self.bin = bin_dir
        self.data = data_dir
        self.port = port

    def _ctl(self, *args):
        argv = [os.path.join(self.bin, "pg_ctl"), "-D", self.data, *args]
        if os.geteuid() == 0:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=180,
                                 stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return False, "pg_ctl timed out"
        return out.returncode == 0, (out.stdout + out.stderr).strip()

    def stop(self):
        """Stops the server at once, as a crash or a failover does. (ok, pg_ctl's output)"""
        return self._ctl("-m", "immediate", "stop")

    def start(self):
        """Starts the server and waits until it accepts connections. (ok, pg_ctl's output)"""
        return self._ctl("-l", os.path.join(self.data, "server.log"), "-w", "-t", "150", "start")

    def answers(self):
        return port_answers(self.port, 0.5)


class Model:
    """The fake provider (bench/chaos_model.py) and its outage switch."""

    def __init__(self, url):
        self.url = url

    def _call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"content-type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def outage(self, status):
        """From now on every call answers `status` (None: answers again)."""
        return self._call("POST", "/control/outage", {"status": status})

    def stats(self):
        return self._call("GET", "/control/stats")


class Cluster:
    def __init__(self, log_dir, bin_path, database_base, app_prefix, redis_port, redis_pid,
                 worker_pids, temporal_port, temporal_pid, postgres):
        self.log_dir = log_dir
        self.bin = bin_path
        self.database_base = database_base
        self.app_prefix = app_prefix
        self.redis_port = redis_port
        self.redis = Proc("redis", redis_pid)
        self.workers = {n: Proc(f"worker{n}", pid, log=f"worker-{n}.1.log")
                        for n, pid in enumerate(worker_pids, start=1)}
        self.temporal_port = temporal_port
        self.temporal = Proc("temporal", temporal_pid, log="temporal.log")
        # The dev server's command line, read before its first stop, to start it again as it
        # was (the same port, the same state file).
        self.temporal_argv = None
        self.postgres = postgres
        self.spawned = []  # Popen of everything started here, stopped at exit
        self.stopping = False  # set by stop_spawned: nothing is started any more
        self.lock = threading.Lock()

    def _note(self, file, line):
        with open(os.path.join(self.log_dir, file), "a") as f:
            f.write(line + "\n")

    def kill_worker(self, slot):
        """SIGKILLs the slot's worker and starts another at once. Returns (old pid, new pid,
        whether the old one was still alive); None once stopping."""
        with self.lock:
            if self.stopping:
                return None
            w = self.workers[slot]
            was_alive = not gone(w.pid)
            self._note("killed-pids", str(w.pid))
            try:
                os.kill(w.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            if w.popen is not None:
                w.popen.wait(timeout=10)
            else:
                for _ in range(100):
                    if gone(w.pid):
                        break
                    time.sleep(0.05)
            old = w.pid
            w.generation += 1
            w.log = f"worker-{slot}.{w.generation}.log"
            env = dict(os.environ)
            env["LONGRUN_DATABASE_URL"] = f"{self.database_base}&application_name={self.app_prefix}worker{slot}"
            env["LONGRUN_METRICS_LISTEN"] = f"127.0.0.1:{free_port()}"
            with open(os.path.join(self.log_dir, w.log), "wb") as out:
                w.popen = subprocess.Popen([self.bin, "worker"], env=env, stdin=subprocess.DEVNULL,
                                           stdout=out, stderr=subprocess.STDOUT)
            w.pid = w.popen.pid
            self.spawned.append(w.popen)
            self._note("spawned-pids", f"worker {w.pid}")
            return old, w.pid, was_alive

    def stop_redis(self):
        with self.lock:
            r = self.redis
            self._note("killed-pids", str(r.pid))
            try:
                os.kill(r.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and (redis_answers(self.redis_port, 0.2)
                                                   or not gone(r.pid)):
                time.sleep(0.05)
            if r.popen is not None:
                r.popen.wait(timeout=10)
            return not redis_answers(self.redis_port, 0.2)

    def start_redis(self):
        with self.lock:
            if self.stopping:
                return False
            r = self.redis
            r.generation += 1
            r.popen = subprocess.Popen(
                ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1",
                 "--save", "", "--appendonly", "no",
                 "--dir", os.path.join(self.log_dir, "redis-data"),
                 "--logfile", os.path.join(self.log_dir, f"redis-{r.generation}.log")],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            r.pid = r.popen.pid
            self.spawned.append(r.popen)
            self._note("spawned-pids", f"redis {r.pid}")
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if redis_answers(self.redis_port):
                    return True
                time.sleep(0.05)
            return False

    def stop_temporal(self):
        """SIGTERMs the Temporal dev server (SIGKILL after 30 s) and waits for its port to
        close. Returns whether it is down."""
        with self.lock:
            t = self.temporal
            if self.temporal_argv is None:
                with open(f"/proc/{t.pid}/cmdline", "rb") as f:
                    self.temporal_argv = [a.decode() for a in f.read().split(b"\0") if a]
            self._note("killed-pids", str(t.pid))
            pid, popen = t.pid, t.popen
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        if not wait_until(lambda: gone(pid), 30):
            os.kill(pid, signal.SIGKILL)
            wait_until(lambda: gone(pid), 10)
        if popen is not None:
            popen.wait(timeout=10)
        return wait_until(lambda: not port_answers(self.temporal_port, 0.2), 30)

    def start_temporal(self):
        """Starts the dev server again with its first command line (so its state file);
        returns whether its port answers within 90 s."""
        with self.lock:
            if self.stopping:
                return False
            t = self.temporal
            t.generation += 1
            t.log = f"temporal-{t.generation}.log"
            with open(os.path.join(self.log_dir, t.log), "wb") as out:
                t.popen = subprocess.Popen(self.temporal_argv, stdin=subprocess.DEVNULL,
                                           stdout=out, stderr=subprocess.STDOUT)
            t.pid = t.popen.pid
            self.spawned.append(t.popen)
            self._note("spawned-pids", f"temporal {t.pid}")
            popen = t.popen
        return wait_until(lambda: port_answers(self.temporal_port, 0.2) or popen.poll() is not None,
                          90) and popen.poll() is None

    def stop_spawned(self):
        """SIGTERM to what this script started, SIGKILL after 10 s."""
        with self.lock:
            self.stopping = True
            live = [p for p in self.spawned if p.poll() is None]
        for p in live:
            try:
                p.terminate()
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 10
        for p in live:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def psql(url, sql):
    out = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1",
                          url, "-c", sql], capture_output=True, text=True, timeout=60,
                         stdin=subprocess.DEVNULL)
    if out.returncode != 0:
        raise RuntimeError(f"psql: {out.stderr.strip()}")
    return [line.split("\t") for line in out.stdout.splitlines() if line]


def connections(admin_url, prefix):
    """{application_name: number of backends} of longrun's processes."""
    rows = psql(admin_url, "SELECT application_name, count(*) FROM pg_stat_activity "
                f"WHERE starts_with(application_name, '{prefix}') GROUP BY 1 ORDER BY 1")
    return {name[len(prefix):]: int(count) for name, count in rows}


def terminate(admin_url, prefix):
    """Terminates every backend whose application_name starts with prefix (one statement);
    returns {process: [(pid, state)]} of those terminated (state: active, idle, …)."""
    rows = psql(admin_url, "SELECT application_name, pid, state, pg_terminate_backend(pid) "
                "FROM pg_stat_activity WHERE starts_with(application_name, "
                f"'{prefix}') AND pid <> pg_backend_pid() ORDER BY 1, 2")
    killed = collections.defaultdict(list)
    for name, pid, state, ok in rows:
        if ok == "t":
            killed[name[len(prefix):]].append((int(pid), state))
    return dict(killed)


def scan_logs(log_dir):
    """Per log file: ERROR and WARN lines by message, panics."""
    found = {}
    for name in sorted(os.listdir(log_dir)):
        if not (name.startswith(("api-", "worker-")) and name.endswith(".log")):
            continue
        levels = collections.Counter()
        messages = collections.Counter()
        panics = 0
        with open(os.path.join(log_dir, name), errors="replace") as f:
            for line in f:
                if "panicked" in line:
                    panics += 1
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                level = entry.get("level")
                if level in ("ERROR", "WARN"):
                    levels[level] += 1
                    message = (entry.get("fields") or {}).get("message", "")
                    messages[f"{level} {message[:120]}"] += 1
        found[name] = (levels, messages, panics)
    return found


def history_notes(workflow_id):
    """What Temporal's history of a run says held it up: timeouts, failed workflow tasks,
    activity attempts beyond the first. {note: count}, or {error: 1}."""
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    cli = os.path.join(root, ".venv", "bin", "temporal")
    address = os.environ.get("LONGRUN_TEMPORAL_ADDRESS", "").split("://")[-1]
    try:
        out = subprocess.run([cli if os.path.exists(cli) else "temporal", "workflow", "show",
                              "--workflow-id", workflow_id, "--address", address,
                              "--namespace", os.environ.get("LONGRUN_TEMPORAL_NAMESPACE", "default"),
                              "--output", "json"], capture_output=True, text=True, timeout=30,
                             stdin=subprocess.DEVNULL)
        events = json.loads(out.stdout).get("events", [])
    except (OSError, ValueError, subprocess.TimeoutExpired) as err:
        return {f"history unavailable: {err}": 1}
    notes = collections.Counter()
    scheduled = {}
    for e in events:
        kind = re.sub(r"[^A-Z]", "", str(e.get("eventType", "")).upper()).replace("EVENTTYPE", "", 1)
        if kind == "ACTIVITYTASKSCHEDULED":
            attrs = e.get("activityTaskScheduledEventAttributes", {})
            scheduled[str(e.get("eventId"))] = attrs.get("activityType", {}).get("name", "?")
        elif kind == "ACTIVITYTASKSTARTED":
            attrs = e.get("activityTaskStartedEventAttributes", {})
            if int(attrs.get("attempt", 1)) > 1:
                name = scheduled.get(str(attrs.get("scheduledEventId")), "?")
                notes[f"{name} ran {attrs.get('attempt')} attempts"] += 1
        elif kind == "ACTIVITYTASKTIMEDOUT":
            attrs = e.get("activityTaskTimedOutEventAttributes", {})
            name = scheduled.get(str(attrs.get("scheduledEventId")), "?")
            info = (attrs.get("failure") or {}).get("timeoutFailureInfo", {})
            notes[f"{name} timed out ({info.get('timeoutType', '?')})"] += 1
        elif kind in ("WORKFLOWTASKTIMEDOUT", "WORKFLOWTASKFAILED"):
            attrs = e.get("workflowTaskTimedOutEventAttributes") or e.get(
                "workflowTaskFailedEventAttributes") or {}
            notes[f"workflow task {kind[12:].lower()} ({attrs.get('timeoutType') or attrs.get('cause', '?')})"] += 1
    return dict(notes)

