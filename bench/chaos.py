#!/usr/bin/env python3
"""Driver and checker of bench/chaos (python3 standard library only).

bench/chaos starts the processes (Temporal, a private Redis, 2 x `longrun api`, 2 x
`longrun worker`) and hands over through the environment:
  SCALE_BIN                 the longrun binary (admin and billing commands; scripts/scale.py's
                            `longrun()` reads it)
  CHAOS_APIS, CHAOS_API_PIDS      base URLs and pids of the API processes, comma-separated
  CHAOS_WORKER_PIDS         pids of the two first workers (this script SIGKILLs and replaces them)
  CHAOS_LOG_DIR             where everything logs; this script appends the pids it kills to
                            killed-pids and those it starts to spawned-pids ("worker|redis <pid>")
  CHAOS_TAG                 unique to this invocation
  CHAOS_REDIS_PORT, CHAOS_REDIS_PID   the private Redis (this script restarts it once)
  CHAOS_DATABASE_BASE       longrun's database URL without application_name
  CHAOS_APP_PREFIX          every longrun process's application_name starts with it
                            (<prefix>api1, <prefix>worker2, <prefix>cli)
  CHAOS_ADMIN_DATABASE_URL  the same database, for psql (pg_stat_activity, pg_terminate_backend)
  LONGRUN_*                 the configuration the processes and CLI commands share

This script creates the workspaces (pro, limits raised) and an agent on offline/demo with the
calculator in each, submits the runs over both APIs, and meanwhile SIGKILLs a worker every
--kill-every seconds (alternately, restarting it at once), restarts the Redis once and
terminates every Postgres connection of longrun once. Then it checks the outcome and prints
the figures. Exit status: 0 when every check passed, 1 otherwise, 2 for bad arguments.
"""

import collections
import concurrent.futures
import datetime
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
from scale import (  # noqa: E402  (scripts/scale.py: workspaces, HTTP recording, checks)
    TERMINAL,
    Checks,
    DriverParser,
    Http,
    check_admissions,
    check_billing,
    create_agents,
    create_workspace,
    list_runs,
    make_runs,
    now_ms,
    parse_time_ms,
    resend_some,
    retry_after,
    setup_driver,
    sort_listed,
    spread,
    submit_until_admitted,
    wait_for_clients,
    write_calls,
)

# The only 5xx the API documents: Temporal unreachable, the database unreachable.
DOCUMENTED_503 = {"scheduler_unavailable", "store_unavailable"}
# A Postgres termination right after a worker restart could find the new worker not yet
# connected; it waits this long after a kill.
PG_AFTER_KILL_S = 3.0


def parse_args(argv):
    parser = DriverParser(
        "bench/chaos",
        "Runs many agent runs through 2 API and 2 worker processes while workers are "
        "SIGKILLed, Redis restarts and longrun's Postgres connections are terminated; checks "
        "that every run ends right and is billed once, and that no answer was an undocumented "
        "5xx.",
        "LONGRUN_CHAOS_RUNS", runs=500, workspaces=5)
    parser.add_argument("--clients", type=int, default=None,
                        help="clients per workspace, each with one run in flight at a time: it "
                        "submits a run, waits for it to end, submits the next; the workspace's "
                        "concurrent_runs is set to it (default: runs / (3 x workspaces), at most "
                        "25, the pro tier's figure; so that each client runs 3 runs or more)")
    parser.add_argument("--requests-per-minute", type=int, default=6000,
                        help="each workspace's requests_per_minute (default 6000: never hit, "
                        "but every request still goes through the Redis limiter)")
    parser.add_argument("--kill-every", type=float, default=10.0,
                        help="seconds between worker SIGKILLs (default 10)")
    parser.add_argument("--first-kill-at", type=float, default=0.1,
                        help="the first kill comes --kill-every seconds after the first "
                        "submission, or earlier once this fraction of the runs has ended "
                        "(default 0.1), so that a short run sees one too")
    parser.add_argument("--kills", type=int, default=0,
                        help="worker kills (default 0: every --kill-every seconds until every "
                        "run has ended)")
    parser.add_argument("--redis-at", type=float, default=0.3,
                        help="restart Redis once this fraction of the runs has ended "
                        "(default 0.3)")
    parser.add_argument("--redis-down-s", type=float, default=3.0,
                        help="seconds Redis stays down (default 3)")
    parser.add_argument("--postgres-at", type=float, default=0.6,
                        help="terminate longrun's Postgres connections once this fraction of "
                        "the runs has ended (default 0.6)")
    parser.add_argument("--postgres-readers", type=int, default=8,
                        help="clients reading GET /v1/runs flat out from 1 s before to 2 s "
                        "after the termination, so that it cuts API queries in flight "
                        "(default 8; 0: none)")
    parser.add_argument("--timeout", type=float, default=None,
                        help="seconds for all runs to end (default 120 + 2 per run)")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.workspaces < 1:
        parser.error("--runs and --workspaces must be at least 1")
    if args.clients is None:
        args.clients = max(1, min(25, args.runs // (3 * args.workspaces)))
    if args.clients < 1:
        parser.error("--clients must be at least 1")
    if args.kill_every <= 0 or args.kills < 0 or args.redis_down_s < 0:
        parser.error("--kill-every must be positive, --kills and --redis-down-s not negative")
    for name in ("redis_at", "postgres_at", "first_kill_at"):
        if not 0 <= getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be in [0, 1)")
    if args.timeout is None:
        args.timeout = 120.0 + 2.0 * args.runs
    return args


# ---------------------------------------------------------------------------------------------
# processes


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
    """A worker slot or the Redis: the process now running it."""

    def __init__(self, name, pid, popen=None, log=None):
        self.name = name
        self.pid = pid
        self.popen = popen  # None: started by bench/chaos, not a child of this script
        self.log = log
        self.generation = 1


class Cluster:
    def __init__(self, log_dir, bin_path, database_base, app_prefix, redis_port, redis_pid,
                 worker_pids):
        self.log_dir = log_dir
        self.bin = bin_path
        self.database_base = database_base
        self.app_prefix = app_prefix
        self.redis_port = redis_port
        self.redis = Proc("redis", redis_pid)
        self.workers = {n: Proc(f"worker{n}", pid, log=f"worker-{n}.1.log")
                        for n, pid in enumerate(worker_pids, start=1)}
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


# ---------------------------------------------------------------------------------------------
# the scenario


def main(argv):
    args = parse_args(argv)
    apis = [a for a in os.environ["CHAOS_APIS"].split(",") if a]
    api_pids = [int(p) for p in os.environ["CHAOS_API_PIDS"].split(",") if p]
    log_dir = os.environ["CHAOS_LOG_DIR"]
    tag = os.environ["CHAOS_TAG"]
    prefix = os.environ["CHAOS_APP_PREFIX"]
    admin_url = os.environ["CHAOS_ADMIN_DATABASE_URL"]
    if not re.fullmatch(r"[a-z0-9_]+", prefix):
        raise SystemExit(f"CHAOS_APP_PREFIX {prefix!r}: only [a-z0-9_]")
    cluster = Cluster(log_dir, os.environ["SCALE_BIN"], os.environ["CHAOS_DATABASE_BASE"], prefix,
                      int(os.environ["CHAOS_REDIS_PORT"]), int(os.environ["CHAOS_REDIS_PID"]),
                      [int(p) for p in os.environ["CHAOS_WORKER_PIDS"].split(",") if p])
    global CLUSTER
    CLUSTER = cluster
    http = Http()
    checks = Checks()
    n = args.runs
    # time.time() of a monotonic instant, to place answers next to the disruptions.
    wall_offset = time.time() - time.monotonic()
    print(f"chaos: {n} runs over {args.workspaces} workspaces ({args.clients} clients each, "
          f"{args.workspaces * args.clients} runs in flight), {len(apis)} APIs, 2 workers; "
          f"a worker SIGKILLed every {args.kill_every:g} s "
          f"({args.kills if args.kills else 'until the runs end'}), Redis restarted at "
          f"{args.redis_at:.0%} ended, Postgres connections terminated at "
          f"{args.postgres_at:.0%} ended", flush=True)

    # Workspaces, limits raised, an agent each.
    quotas = {"concurrent_runs": args.clients, "requests_per_minute": args.requests_per_minute,
              "tokens_per_month": "unlimited", "agent_minutes_per_month": "unlimited"}
    keys = {f"chaos-{w}": create_workspace(f"chaos-{w}", quotas) for w in range(args.workspaces)}
    slugs = list(keys)
    create_agents(http, apis, keys)

    # application_name reaches Postgres (sqlx's URL parameter): each process is there by name.
    before = connections(admin_url, prefix)
    expected_names = {"api1", "api2", "worker1", "worker2"}
    checks.check(expected_names <= set(before),
                 "every process's connections carry its application_name",
                 ", ".join(f"{prefix}{k}: {v}" for k, v in before.items()))

    runs = make_runs(n, slugs, f"chaos-{tag}")
    for run in runs:
        run.done = threading.Event()
    by_id_live = {}

    lock = threading.Lock()
    retries = collections.Counter()  # (route, status, code) -> requests sent again after it
    accepted = [0]
    submitted_all = threading.Event()
    all_ended = threading.Event()
    stop_chaos = threading.Event()
    stop_at = time.monotonic() + args.timeout
    progress = {"ended": 0, "live": 0, "polls": 0}
    events = []  # every disruption, in order

    def event(kind, **details):
        at = now_ms()
        with lock:
            events.append(dict(kind=kind, at_ms=at, **details))
        rel = (at - started_ms) / 1000
        print(f"chaos: +{rel:6.1f} s {kind} "
              + " ".join(f"{k}={v}" for k, v in details.items()), flush=True)

    def backoff(route, status, code, headers):
        with lock:
            retries[(route, status, code)] += 1
        if status in (429, 503):
            time.sleep(min(retry_after(headers, 1.0), 10.0))
        else:
            time.sleep(1.0)

    def submit(run, api_index, record_first=True):
        """POSTs the run until an API admits it (or already has it); returns (status, id)."""
        return submit_until_admitted(
            http, apis, api_index, run, keys[run.workspace], {"chaos_index": run.index},
            stop_at, lambda status, code, headers, _answer: backoff(
                "POST /v1/runs", status, code, headers),
            record_first)

    def submit_run(run):
        first_api = run.index % len(apis)
        status, run_id = submit(run, first_api)
        if not run_id:
            run.done.set()
            return
        run.answers.append((status, run_id))
        run.accepted_at = now_ms()
        with lock:
            run.id = run_id
            by_id_live[run_id] = run
            accepted[0] += 1
        resend_some(run, submit, first_api)

    def client(queue):
        """One run in flight at a time: submit, wait for the end (seen by the poller), next."""
        while time.monotonic() < stop_at:
            with lock:
                if not queue:
                    return
                run = queue.popleft()
            submit_run(run)
            run.done.wait(max(0.0, stop_at - time.monotonic()))

    def list_workspace(slug, api_index):
        """Every run of the workspace; None if the time ran out (a minute after the runs')."""
        return list_runs(http, apis, slug, keys[slug], api_index, stop_at + 60,
                         lambda status, code, headers, _answer: backoff(
                             "GET /v1/runs", status, code, headers))

    listed = {}

    def poller():
        poll = 0
        while not all_ended.is_set() and time.monotonic() < stop_at:
            poll += 1
            rows = {}
            for slug in slugs:
                got = list_workspace(slug, poll)
                if got is None:
                    return
                rows[slug] = got
            ended = sum(1 for rs in rows.values() for r in rs if r["status"] in TERMINAL)
            live = sum(1 for rs in rows.values() for r in rs if r["status"] not in TERMINAL)
            with lock:
                listed.update(rows)
                progress.update(ended=ended, live=live, polls=poll)
                for rs in rows.values():
                    for r in rs:
                        if r["status"] in TERMINAL and r["id"] in by_id_live:
                            by_id_live[r["id"]].done.set()
            if submitted_all.is_set() and live == 0 and ended >= accepted[0]:
                mine = {r.id for r in runs if r.id}
                if mine <= {r["id"] for rs in rows.values() for r in rs}:
                    all_ended.set()
                    return
            time.sleep(0.5)

    disruptions = {"kills": [], "redis": None, "postgres": None}

    def restart_redis():
        live = progress["live"]
        stopped = cluster.stop_redis()
        event("redis_stopped", pid_was=cluster.redis.pid, live_runs=live, refused=stopped)
        down_at = now_ms()
        time.sleep(args.redis_down_s)
        up = cluster.start_redis()
        up_at = now_ms()
        event("redis_started", pid=cluster.redis.pid, answers=up)
        disruptions["redis"] = dict(down_ms=down_at, up_ms=up_at, stopped=stopped, up=up)

    def terminate_postgres():
        # Readers flat out around the termination, so that API queries are in flight when
        # their backends go (an idle pooled connection is pinged before use and replaced
        # quietly; the runs' own traffic keeps the workers' connections busy).
        readers_stop = threading.Event()
        read_counts = collections.Counter()

        def reader(k):
            slug = slugs[k % len(slugs)]
            i = 0
            while not readers_stop.is_set():
                status, _, _ = http.request(slug, apis[(k + i) % len(apis)], "GET",
                                            "/v1/runs?limit=100", keys[slug])
                with lock:
                    read_counts[status] += 1
                i += 1

        readers = [threading.Thread(target=reader, args=(k,), daemon=True)
                   for k in range(args.postgres_readers)]
        for t in readers:
            t.start()
        time.sleep(1.0 if readers else 0)
        live = progress["live"]
        at = now_ms()
        try:
            killed = terminate(admin_url, prefix)
            error = None
        except (RuntimeError, subprocess.TimeoutExpired) as err:
            killed, error = {}, str(err)
        disruptions["postgres"] = dict(at_ms=at, killed=killed, error=error)
        states = collections.Counter(state for v in killed.values() for _, state in v)
        event("postgres_terminated", live_runs=live,
              backends=sum(len(v) for v in killed.values()),
              by_process={k: len(v) for k, v in killed.items()}, states=dict(states),
              **({"error": error} if error else {}))
        time.sleep(2.0 if readers else 0)
        readers_stop.set()
        for t in readers:
            t.join()
        disruptions["postgres"]["reads"] = dict(read_counts)

    def chaos():
        next_kill = started + args.kill_every
        last_kill = -1e9
        redis_thread = pg_thread = None
        while not stop_chaos.is_set():
            now = time.monotonic()
            ended_fraction = progress["ended"] / n
            due = now >= next_kill or (not disruptions["kills"]
                                       and ended_fraction >= args.first_kill_at)
            if due and (not args.kills or len(disruptions["kills"]) < args.kills):
                slot = len(disruptions["kills"]) % 2 + 1
                live = progress["live"]
                at = now_ms()
                killed = cluster.kill_worker(slot)
                if killed is None:
                    break
                old, new, was_alive = killed
                disruptions["kills"].append(dict(at_ms=at, slot=slot, pid=old, new_pid=new,
                                                 was_alive=was_alive, live_seen=live))
                event("worker_sigkilled", worker=slot, pid=old, restarted_as=new,
                      live_runs=live, was_alive=was_alive)
                last_kill = time.monotonic()
                next_kill = last_kill + args.kill_every
            if redis_thread is None and ended_fraction >= args.redis_at:
                redis_thread = threading.Thread(target=restart_redis, daemon=True)
                redis_thread.start()
            if (pg_thread is None and ended_fraction >= args.postgres_at
                    and time.monotonic() - last_kill >= PG_AFTER_KILL_S):
                pg_thread = threading.Thread(target=terminate_postgres, daemon=True)
                pg_thread.start()
            stop_chaos.wait(0.1)
        for thread in (redis_thread, pg_thread):
            if thread is not None:
                thread.join()

    # -----------------------------------------------------------------------------------------
    started = time.monotonic()
    started_ms = now_ms()
    print("chaos: submitting", flush=True)
    chaos_thread = threading.Thread(target=chaos, daemon=True)
    chaos_thread.start()
    poll_thread = threading.Thread(target=poller, daemon=True)
    poll_thread.start()
    queues = {slug: collections.deque(r for r in runs if r.workspace == slug) for slug in slugs}
    pools = {slug: concurrent.futures.ThreadPoolExecutor(args.clients) for slug in slugs}
    futures = [pools[slug].submit(client, queues[slug]) for slug in slugs
               for _ in range(args.clients)]

    def report():
        print(f"chaos: +{time.monotonic() - started:6.1f} s {accepted[0]}/{n} admitted, "
              f"{progress['ended']} ended, {progress['live']} live, "
              f"{len(disruptions['kills'])} kills", flush=True)

    last_report = wait_for_clients(futures, pools, report)
    submitted_s = time.monotonic() - started
    submitted_all.set()
    print(f"chaos: {accepted[0]}/{n} admitted in {submitted_s:.1f} s; waiting for them to end",
          flush=True)
    while not all_ended.is_set() and time.monotonic() < stop_at and poll_thread.is_alive():
        all_ended.wait(0.5)
        if time.monotonic() - last_report >= 10:
            last_report = time.monotonic()
            report()
    ended_ms = now_ms()
    stop_chaos.set()
    chaos_thread.join()
    all_ended.set()  # stops the poller if the time ran out
    poll_thread.join()

    # The processes: the APIs never restarted, the workers and Redis as replaced.
    dead = [f"api {pid}" for pid in api_pids if gone(pid)]
    dead += [f"worker {slot} (pid {w.pid})" for slot, w in cluster.workers.items() if gone(w.pid)]
    dead += [f"redis (pid {cluster.redis.pid})"] if gone(cluster.redis.pid) else []
    after = connections(admin_url, prefix)

    # The final lists, for the checks.
    for slug in slugs:
        rows = list_workspace(slug, 1)
        if rows is not None:
            listed[slug] = rows

    # -----------------------------------------------------------------------------------------
    print("\nchecks:", flush=True)
    checks.check(not dead, "every process still up (APIs, current workers, Redis)",
                 ", ".join(dead))
    check_admissions(checks, runs)

    found = sort_listed(runs, listed, live_apart=True)
    by_id, all_rows, strangers, live, bad = (found.by_id, found.rows, found.strangers,
                                             found.live, found.bad)
    missing, duplicates, wrong_place = found.missing, found.duplicates, found.wrong_place
    checks.check(not missing and not wrong_place and not duplicates and not strangers,
                 "every admitted run is listed exactly once, in its workspace, and no other run",
                 f"{len(all_rows)} listed" + (f"; missing #{missing[:10]}" if missing else "")
                 + (f"; duplicated {duplicates[:5]}" if duplicates else "")
                 + (f"; in another workspace {wrong_place[:5]}" if wrong_place else "")
                 + (f"; not submitted: {[s['id'] for s in strangers[:5]]}" if strangers else ""))
    checks.check(not live, "every run is terminal",
                 f"{len(live)} still live after {args.timeout:.0f} s: {live[:10]}" if live else "")
    failure_codes = collections.Counter(
        (err or {}).get("code") if isinstance(err, dict) else str(err) for _, _, _, err in bad)
    checks.check(not bad, "every run succeeded with the right answer",
                 (f"{len(bad)} did not (error codes {dict(failure_codes)}): "
                  + "; ".join(f"#{i} {s} {res!r} {err}" for i, s, res, err in bad[:5])) if bad else
                 f"{sum(1 for r in all_rows.values() if r['status'] == 'succeeded')} succeeded")

    # Billing: reconcile and the export, as scripts/scale checks them.
    export_rows = check_billing(checks, runs, by_id, all_rows)

    # Every answer: a 5xx must be a documented 503.
    to_wall_ms = lambda mono: int((mono + wall_offset) * 1000)  # noqa: E731
    undocumented = [c for c in http.calls if c.status is not None and c.status >= 500
                    and not (c.status == 503 and c.code in DOCUMENTED_503)]
    unanswered = [c for c in http.calls if c.status is None]
    checks.check(not undocumented, "no 5xx answer but a documented 503",
                 f"{len(undocumented)}: " + "; ".join(
                     f"{c.route} {c.status} {c.code} at +{(to_wall_ms(c.sent) - started_ms) / 1000:.1f} s"
                     for c in undocumented[:10]) if undocumented else "")
    checks.check(not unanswered, "every request was answered",
                 f"{len(unanswered)} without answer: " + "; ".join(
                     f"{c.route} at +{(to_wall_ms(c.sent) - started_ms) / 1000:.1f} s"
                     for c in unanswered[:10]) if unanswered else "")

    # The disruptions happened, while runs were in flight (from the runs' own timestamps).
    intervals = [(parse_time_ms(r["created_at"]),
                  parse_time_ms(r["finished_at"]) if r.get("finished_at") else ended_ms)
                 for r in all_rows.values()]

    def live_at(ms):
        return sum(1 for a, b in intervals if a <= ms < b)

    def live_during(a_ms, b_ms):
        return sum(1 for a, b in intervals if a < b_ms and b > a_ms)

    kills = disruptions["kills"]
    for k in kills:
        k["live"] = live_at(k["at_ms"])
    planned = f"{args.kills}" if args.kills else "one every {:g} s until the runs ended".format(args.kill_every)
    checks.check(bool(kills) and (not args.kills or len(kills) == args.kills)
                 and all(k["was_alive"] for k in kills),
                 f"workers SIGKILLed and restarted ({planned})",
                 f"{len(kills)} kills, runs in flight at each: {[k['live'] for k in kills]}"
                 + ("; a worker had died by itself before its kill: "
                    f"{[k['pid'] for k in kills if not k['was_alive']]}"
                    if not all(k["was_alive"] for k in kills) else ""))
    checks.check(any(k["live"] > 0 for k in kills), "a worker kill hit runs in flight",
                 f"{sum(1 for k in kills if k['live'] > 0)} of {len(kills)} did")
    redis = disruptions["redis"]
    if redis:
        redis["live"] = live_during(redis["down_ms"], redis["up_ms"])
    checks.check(bool(redis) and redis["stopped"] and redis["up"] and redis["live"] > 0,
                 "Redis restarted once while runs were in flight",
                 (f"down {(redis['up_ms'] - redis['down_ms']) / 1000:.1f} s, {redis['live']} runs "
                  "in flight meanwhile" if redis else
                  "not done: the runs ended first (lower --redis-at or raise --runs)"))
    pg = disruptions["postgres"]
    if pg:
        pg["live"] = live_at(pg["at_ms"])
        pg["states"] = dict(collections.Counter(state for v in pg["killed"].values() for _, state in v))
        pg["active"] = sum(c for state, c in pg["states"].items() if state != "idle")
    checks.check(bool(pg) and not pg["error"] and expected_names <= set(pg["killed"])
                 and pg["live"] > 0,
                 "every Postgres connection of longrun terminated once while runs were in flight",
                 (f"{sum(len(v) for v in pg['killed'].values())} backends "
                  f"({', '.join(f'{k} {len(v)}' for k, v in pg['killed'].items())}; states "
                  f"{pg['states']}), {pg['live']} runs in flight"
                  + (f"; {pg['error']}" if pg["error"] else "")
                  if pg else "not done: the runs ended first (lower --postgres-at or raise --runs)"))
    logs = scan_logs(log_dir)
    panics = {name: p for name, (_, _, p) in logs.items() if p}
    checks.check(not panics, "no panic in any longrun log", f"{panics}" if panics else "")

    write_calls(log_dir, http.calls, lambda c: {"sent_ms": to_wall_ms(c.sent),
                                                 "received_ms": to_wall_ms(c.received)})

    # -----------------------------------------------------------------------------------------
    done = [r for r in all_rows.values() if r.get("finished_at")]
    last_end = max((parse_time_ms(r["finished_at"]) for r in done), default=ended_ms)
    wall_s = (last_end - started_ms) / 1000
    latency = [(parse_time_ms(r["finished_at"]) - parse_time_ms(r["created_at"])) / 1000
               for r in done]
    statuses = collections.Counter()
    by_route = collections.defaultdict(collections.Counter)
    for c in http.calls:
        label = "no answer" if c.status is None else (
            f"{c.status} {c.code}" if c.code and c.status >= 400 else str(c.status))
        statuses[label] += 1
        by_route[c.route][label] += 1
    n503 = sum(v for k, v in statuses.items() if k.startswith("503"))

    def rel(ms):
        return f"+{(ms - started_ms) / 1000:.1f} s ({iso(ms)})"

    print("\nsummary:")
    print(f"  runs                 {n} submitted, {len(by_id)} admitted, {len(done)} ended, "
          f"{sum(1 for r in done if r['status'] == 'succeeded')} succeeded; "
          f"{args.workspaces} workspaces x {args.clients} clients (and concurrent_runs)")
    print(f"  wall time            {wall_s:.1f} s (first submission {iso(started_ms)} to last "
          f"run end); every client done after {submitted_s:.1f} s")
    print(f"  admitted -> ended    {spread(latency)}")
    slowest = sorted(done, key=lambda r: parse_time_ms(r["created_at"]) - parse_time_ms(r["finished_at"]))[:3]
    for r in slowest:
        created, finished = parse_time_ms(r["created_at"]), parse_time_ms(r["finished_at"])
        r["history_notes"] = history_notes(r["workflow_id"])
        print(f"    slow: {(finished - created) / 1000:.1f} s, admitted +{(created - started_ms) / 1000:.1f}"
              f" s, ended +{(finished - started_ms) / 1000:.1f} s, workflow {r['workflow_id']}: "
              f"{r['history_notes'] or 'nothing unusual in its history'}")
    print(f"  worker kills         {len(kills)}, runs in flight at each "
          f"{[k['live'] for k in kills]}")
    for k in kills:
        print(f"    {rel(k['at_ms'])}  worker {k['slot']} pid {k['pid']} SIGKILLed, restarted as "
              f"pid {k['new_pid']}, {k['live']} runs in flight")
    if redis:
        print(f"  redis restart        down {rel(redis['down_ms'])}, up {rel(redis['up_ms'])}, "
              f"{redis['live']} runs in flight meanwhile")
    else:
        print("  redis restart        not done")
    if pg:
        print(f"  postgres terminate   {rel(pg['at_ms'])}: "
              f"{sum(len(v) for v in pg['killed'].values())} backends "
              f"({', '.join(f'{k} {len(v)}' for k, v in pg['killed'].items())}), {pg['active']} "
              f"not idle {pg['states']}; {pg['live']} runs in flight; readers' answers around it "
              f"{pg.get('reads')}")
    else:
        print("  postgres terminate   not done")
    print(f"  connections          before {before}; after {after} (application_name "
          f"{prefix}<process>)")
    print(f"  requests             {len(http.calls)}; by answer: "
          + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())))
    for route, counts in sorted(by_route.items()):
        print(f"    {route:<18} " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    print(f"  503 answers          {n503}")
    print(f"  retries              {sum(retries.values())}"
          + (": " + ", ".join(f"{route} after {status if status else 'no answer'}"
                              f"{' ' + code if code else ''} {v}"
                              for (route, status, code), v in sorted(retries.items(), key=str))
             if retries else ""))
    print(f"  ledger rows exported {len(export_rows)}")
    for name, (levels, messages, _) in logs.items():
        if levels:
            top = "; ".join(f"{m} x{v}" for m, v in messages.most_common(4))
            print(f"  log {name:<16} {dict(levels)}: {top}")

    summary = dict(runs=n, admitted=len(by_id), ended=len(done),
                   succeeded=sum(1 for r in done if r["status"] == "succeeded"),
                   wall_s=round(wall_s, 1), started=iso(started_ms), kills=kills, redis=redis,
                   postgres=pg, statuses=dict(statuses), n503=n503,
                   retries={f"{r} {s} {c}": v for (r, s, c), v in retries.items()},
                   slowest=[{k: r.get(k) for k in ("id", "workflow_id", "created_at", "finished_at",
                                                     "history_notes")} for r in slowest],
                   failures=checks.failures)
    with open(os.path.join(log_dir, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1, default=str)
    return checks.verdict("chaos")


CLUSTER = None


def interrupted(signum, _frame):
    # Stop what this script started, then leave at once (client threads would linger).
    sys.stdout.flush()
    if CLUSTER is not None:
        CLUSTER.stop_spawned()
    os._exit(128 + signum)


if __name__ == "__main__":
    setup_driver(parse_args, interrupted)
    status = 1
    try:
        status = main(sys.argv[1:])
    finally:
        if CLUSTER is not None:
            CLUSTER.stop_spawned()
        sys.stdout.flush()
    os._exit(status)
