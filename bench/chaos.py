#!/usr/bin/env python3
"""Driver and checker of bench/chaos (python3 standard library only).

bench/chaos starts the processes (its own Postgres cluster, Temporal with its state in a file,
a private Redis, the fake provider, 2 x `longrun api`, 2 x `longrun worker`) and hands over
through the environment:
  SCALE_BIN                 the longrun binary (admin and billing commands; scripts/scale.py's
                            `longrun()` reads it)
  CHAOS_APIS, CHAOS_API_PIDS      base URLs and pids of the API processes, comma-separated
  CHAOS_WORKER_PIDS         pids of the two first workers (this script SIGKILLs and replaces them)
  CHAOS_LOG_DIR             where everything logs; this script appends the pids it kills to
                            killed-pids and those it starts to spawned-pids
                            ("worker|redis|temporal <pid>")
  CHAOS_TAG                 unique to this invocation
  CHAOS_REDIS_PORT, CHAOS_REDIS_PID   the private Redis (this script restarts and stops it)
  CHAOS_TEMPORAL_PORT, CHAOS_TEMPORAL_PID   the dev server (this script restarts it)
  CHAOS_PG_BIN, CHAOS_PG_DATA, CHAOS_PG_PORT   the Postgres cluster (stopped and started)
  CHAOS_MODEL_URL           the fake provider (bench/chaos_model.py; switched to 503 and back)
  CHAOS_DATABASE_BASE       longrun's database URL without application_name
  CHAOS_APP_PREFIX          every longrun process's application_name starts with it
                            (<prefix>api1, <prefix>worker2, <prefix>cli)
  CHAOS_ADMIN_DATABASE_URL  the same database, for psql (pg_stat_activity, pg_terminate_backend)
  LONGRUN_*                 the configuration the processes and CLI commands share

This script creates the workspaces (pro, limits raised) and an agent on the fake provider with
the calculator in each, submits the runs over both APIs, and meanwhile SIGKILLs a worker every
--kill-every seconds (alternately, restarting it at once; not while Postgres or Temporal is
down) and runs the disruptions one after the other, each once every run in flight during the
one before has ended: a Redis restart, the provider answering 503, Postgres stopped, Temporal
restarted (runs submitted while it is down), every Postgres connection of longrun terminated,
Redis stopped. Clients keep submitting runs until the last disruption is over, so that each
finds runs in flight. Then it checks the outcome and prints the figures. Exit status: 0 when
every check passed, 1 otherwise, 2 for bad arguments.

`--process-env ARGS` prints the settings the processes need for these arguments
(NAME=value lines): bench/chaos exports them before starting the processes.
"""

import collections
import concurrent.futures
import json
import os
import re
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
from chaos_processes import (  # noqa: E402  (bench/chaos_processes.py)
    Cluster,
    Model,
    PrivatePostgres,
    connections,
    gone,
    history_notes,
    iso,
    scan_logs,
    terminate,
)
import chaos_outages as outages  # noqa: E402  (bench/chaos_outages.py)

# The only 5xx the API documents: Temporal unreachable, the database unreachable.
DOCUMENTED_503 = {"scheduler_unavailable", "store_unavailable"}
# A disruption right after a worker restart could find the new worker not yet connected; it
# waits this long after a kill.
PG_AFTER_KILL_S = 3.0
# The model of the agents: the fake provider of bench/chaos_model.py (any name will do).
MODEL = "anthropic/claude-chaos-1"
# What --smoke sets (each unless given): CI's size, outages of seconds, retries capped at 1 s.
SMOKE = dict(runs=60, kills=1, provider_outage_s=20.0, postgres_outage_s=25.0,
             temporal_down_s=15.0, redis_outage_s=15.0, retry_cap_s=1)
# Disruptions during which no worker is killed: a worker started then would find its
# database or Temporal away, which is not what the kills test.
NO_KILLS_DURING = {"postgres_stop", "temporal_restart"}


def parse_args(argv):
    parser = DriverParser(
        "bench/chaos",
        "Runs many agent runs through 2 API and 2 worker processes while workers are "
        "SIGKILLed, Redis restarts and stops, the provider answers 503, Postgres stops, "
        "Temporal restarts and longrun's Postgres connections are terminated; checks that every "
        "run ends right and is billed once, that outages paused runs visibly, and that no "
        "answer was an undocumented 5xx.",
        "LONGRUN_CHAOS_RUNS", runs=500, workspaces=5)
    parser.add_argument("--smoke", action="store_true",
                        help="CI's size: " + ", ".join(f"--{k.replace('_', '-')} {v:g}"
                                                       for k, v in SMOKE.items())
                        + " (each unless given)")
    parser.add_argument("--clients", type=int, default=None,
                        help="clients per workspace, each with one run in flight at a time: it "
                        "submits a run, waits for it to end, submits the next (default: runs / "
                        "(3 x workspaces), at most 25, the pro tier's figure; so that each client "
                        "runs 3 runs or more); the workspace's concurrent_runs is set to it plus "
                        "its share of --temporal-runs")
    parser.add_argument("--requests-per-minute", type=int, default=6000,
                        help="each workspace's requests_per_minute (default 6000: never hit, "
                        "but every request still goes through the Redis limiter)")
    parser.add_argument("--kill-every", type=float, default=10.0,
                        help="seconds between worker SIGKILLs (default 10)")
    parser.add_argument("--first-kill-at", type=float, default=0.1,
                        help="the first kill comes --kill-every seconds after the first "
                        "submission, or earlier once this fraction of --runs has ended "
                        "(default 0.1), so that a short run sees one too")
    parser.add_argument("--kills", type=int, default=0,
                        help="worker kills (default 0: every --kill-every seconds until every "
                        "run has ended)")
    parser.add_argument("--first-disruption-at", type=float, default=0.1,
                        help="the first disruption once this fraction of --runs has ended "
                        "(default 0.1); each next one once every run in flight during the one "
                        "before has ended (or --drain-timeout-s passed)")
    parser.add_argument("--redis-down-s", type=float, default=3.0,
                        help="seconds Redis stays down when restarted (default 3)")
    parser.add_argument("--provider-outage-s", type=float, default=600.0,
                        help="seconds the provider answers 503 to every call (default 600; 0: "
                        "no provider outage)")
    parser.add_argument("--postgres-outage-s", type=float, default=600.0,
                        help="seconds Postgres stays stopped (default 600; 0: not stopped)")
    parser.add_argument("--temporal-down-s", type=float, default=60.0,
                        help="seconds the Temporal dev server stays down when restarted "
                        "(default 60; 0: no restart)")
    parser.add_argument("--temporal-runs", type=int, default=None,
                        help="runs submitted while Temporal is down (default 2 per workspace)")
    parser.add_argument("--postgres-readers", type=int, default=8,
                        help="clients reading GET /v1/runs flat out from 1 s before to 2 s "
                        "after the connections are terminated, so that it cuts API queries in "
                        "flight (default 8; 0: none)")
    parser.add_argument("--redis-outage-s", type=float, default=120.0,
                        help="seconds Redis stays stopped (default 120; 0: not stopped)")
    parser.add_argument("--retry-cap-s", type=int, default=None,
                        help="the processes' LONGRUN_RETRY_CAP_S, the longest wait between two "
                        "tries of anything waiting out an outage (default: longrun's, 60)")
    parser.add_argument("--provider-tolerance-s", type=int, default=None,
                        help="the processes' LONGRUN_PROVIDER_OUTAGE_TOLERANCE_S (default: "
                        "3600, or twice the provider outage plus 10 minutes if longer)")
    parser.add_argument("--drain-timeout-s", type=float, default=None,
                        help="longest wait for the runs in flight during a disruption to end "
                        "before the next one (default 120 + 4 x the retry cap)")
    parser.add_argument("--timeout", type=float, default=None,
                        help="seconds for all runs to end (default 120 + 2 per run + each "
                        "outage and its drain)")
    if "--smoke" in argv:
        parser.set_defaults(**{k: v for k, v in SMOKE.items() if k != "runs"})
        parser.default_runs = SMOKE["runs"]
    args = parser.parse_args(argv)
    if args.runs < 1 or args.workspaces < 1:
        parser.error("--runs and --workspaces must be at least 1")
    if args.clients is None:
        args.clients = max(1, min(25, args.runs // (3 * args.workspaces)))
    if args.clients < 1:
        parser.error("--clients must be at least 1")
    if args.kill_every <= 0 or args.kills < 0 or args.redis_down_s < 0:
        parser.error("--kill-every must be positive, --kills and --redis-down-s not negative")
    for name in ("provider_outage_s", "postgres_outage_s", "temporal_down_s", "redis_outage_s"):
        if getattr(args, name) < 0:
            parser.error(f"--{name.replace('_', '-')} must not be negative")
    for name in ("first_disruption_at", "first_kill_at"):
        if not 0 <= getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be in [0, 1)")
    if args.retry_cap_s is not None and not 1 <= args.retry_cap_s <= 3600:
        parser.error("--retry-cap-s must be in [1, 3600]")
    if args.temporal_runs is None:
        args.temporal_runs = 2 * args.workspaces
    if args.temporal_runs < (1 if args.temporal_down_s else 0):
        parser.error("--temporal-runs must be at least 1 when Temporal is restarted")
    if args.provider_tolerance_s is None:
        args.provider_tolerance_s = max(3600, int(2 * args.provider_outage_s) + 600)
    if args.provider_tolerance_s <= args.provider_outage_s:
        parser.error("--provider-tolerance-s must outlast --provider-outage-s (runs would fail)")
    cap = args.retry_cap_s or 60
    if args.drain_timeout_s is None:
        args.drain_timeout_s = 120.0 + 4 * cap
    if args.timeout is None:
        outage_s = (args.redis_down_s + args.provider_outage_s + args.postgres_outage_s
                    + args.temporal_down_s + args.redis_outage_s)
        args.timeout = 120.0 + 2.0 * args.runs + outage_s + 6 * args.drain_timeout_s
    return args


def process_env(args):
    """The settings the processes need for these arguments, as NAME=value lines."""
    lines = [f"LONGRUN_PROVIDER_OUTAGE_TOLERANCE_S={args.provider_tolerance_s}"]
    if args.retry_cap_s is not None:
        lines.append(f"LONGRUN_RETRY_CAP_S={args.retry_cap_s}")
    return "\n".join(lines)


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
    postgres = PrivatePostgres(os.environ["CHAOS_PG_BIN"], os.environ["CHAOS_PG_DATA"],
                               int(os.environ["CHAOS_PG_PORT"]))
    cluster = Cluster(log_dir, os.environ["SCALE_BIN"], os.environ["CHAOS_DATABASE_BASE"], prefix,
                      int(os.environ["CHAOS_REDIS_PORT"]), int(os.environ["CHAOS_REDIS_PID"]),
                      [int(p) for p in os.environ["CHAOS_WORKER_PIDS"].split(",") if p],
                      int(os.environ["CHAOS_TEMPORAL_PORT"]),
                      int(os.environ["CHAOS_TEMPORAL_PID"]), postgres)
    model = Model(os.environ["CHAOS_MODEL_URL"])
    global CLUSTER
    CLUSTER = cluster
    http = Http()
    checks = Checks()
    n = args.runs
    # time.time() of a monotonic instant, to place answers next to the disruptions.
    wall_offset = time.time() - time.monotonic()
    print(f"chaos: {n} runs or more over {args.workspaces} workspaces ({args.clients} clients "
          f"each, {args.workspaces * args.clients} runs in flight), {len(apis)} APIs, 2 workers; "
          f"a worker SIGKILLed every {args.kill_every:g} s "
          f"({args.kills if args.kills else 'until the runs end'}); one after the other: Redis "
          f"restarted ({args.redis_down_s:g} s), provider 503 for {args.provider_outage_s:g} s, "
          f"Postgres stopped {args.postgres_outage_s:g} s, Temporal down "
          f"{args.temporal_down_s:g} s ({args.temporal_runs} runs submitted meanwhile), Postgres "
          f"connections terminated, Redis stopped {args.redis_outage_s:g} s; retry cap "
          f"{f'{args.retry_cap_s} s' if args.retry_cap_s else 'longrun default'}, provider tolerance "
          f"{args.provider_tolerance_s} s", flush=True)

    # Workspaces, limits raised, an agent each; room for the runs submitted while Temporal is
    # down beside the clients' (queued runs hold a slot).
    extra_slots = -(-args.temporal_runs // args.workspaces)
    quotas = {"concurrent_runs": args.clients + extra_slots,
              "requests_per_minute": args.requests_per_minute,
              "tokens_per_month": "unlimited", "agent_minutes_per_month": "unlimited"}
    keys = {f"chaos-{w}": create_workspace(f"chaos-{w}", quotas) for w in range(args.workspaces)}
    slugs = list(keys)
    create_agents(http, apis, keys, MODEL)

    # application_name reaches Postgres (sqlx's URL parameter): each process is there by name.
    before = connections(admin_url, prefix)
    expected_names = {"api1", "api2", "worker1", "worker2"}
    checks.check(expected_names <= set(before),
                 "every process's connections carry its application_name",
                 ", ".join(f"{prefix}{k}: {v}" for k, v in before.items()))

    lock = threading.Lock()
    runs = []
    next_index = {}  # workspace -> index of its next run beyond the planned ones

    def prepare(run):
        # The index in the prompt makes each run's prompt unique: the fake provider counts its
        # refusals by prompt.
        run.question = f"Run {run.index}: {run.question}"
        run.done = threading.Event()
        run.views_while_down = []
        runs.append(run)
        return run

    for run in make_runs(n, slugs, f"chaos-{tag}"):
        prepare(run)
    for w, slug in enumerate(slugs):
        next_index[slug] = n + ((w - n) % len(slugs))

    def another_run(slug):
        """A run beyond the planned ones, in this workspace (call with `lock` held)."""
        i = next_index[slug]
        next_index[slug] += len(slugs)
        return prepare(make_runs(i + 1, slugs, f"chaos-{tag}", first=i)[0])

    by_id_live = {}
    retries = collections.Counter()  # (route, status, code) -> requests sent again after it
    accepted = [0]
    submitted_all = threading.Event()
    all_ended = threading.Event()
    stop_chaos = threading.Event()
    disruptions_done = threading.Event()
    stop_at = time.monotonic() + args.timeout
    progress = {"ended": 0, "live": 0, "polls": 0, "poll_started_ms": 0, "live_created_ms": []}
    seen = collections.defaultdict(set)  # run id -> statuses seen in the lists
    events = []  # every disruption, in order
    started = time.monotonic()
    started_ms = now_ms()

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

    def submit_run(run, resend=True):
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
        if resend:
            resend_some(run, submit, first_api)

    def client(slug, queue):
        """One run in flight at a time: submit, wait for the end (seen by the poller), next;
        beyond the planned runs while disruptions are still to come."""
        while time.monotonic() < stop_at:
            with lock:
                if queue:
                    run = queue.popleft()
                elif not disruptions_done.is_set():
                    run = another_run(slug)
                else:
                    return
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
            poll_started = now_ms()
            rows = {}
            for slug in slugs:
                got = list_workspace(slug, poll)
                if got is None:
                    return
                rows[slug] = got
            ended = sum(1 for rs in rows.values() for r in rs if r["status"] in TERMINAL)
            live = [r for rs in rows.values() for r in rs if r["status"] not in TERMINAL]
            with lock:
                listed.update(rows)
                progress.update(ended=ended, live=len(live), polls=poll,
                                poll_started_ms=poll_started,
                                live_created_ms=[parse_time_ms(r["created_at"]) for r in live])
                for rs in rows.values():
                    for r in rs:
                        seen[r["id"]].add(r["status"])
                        if r["status"] in TERMINAL and r["id"] in by_id_live:
                            by_id_live[r["id"]].done.set()
            if submitted_all.is_set() and not live and ended >= accepted[0]:
                mine = {r.id for r in runs if r.id}
                if mine <= {r["id"] for rs in rows.values() for r in rs}:
                    all_ended.set()
                    return
            time.sleep(0.5)

    disruptions = {"kills": [], "redis": None, "postgres": None, "provider": None,
                   "postgres_stop": None, "temporal": None, "redis_outage": None}
    temporal_runs = []  # the runs submitted while Temporal was down

    def pause(seconds):
        """Waits out an outage; cut short only when the scenario is stopping."""
        stop_chaos.wait(seconds)

    def redis_down(name, seconds):
        live = progress["live"]
        stopped = cluster.stop_redis()
        down_at = now_ms()
        event(f"{name}_redis_stopped", pid_was=cluster.redis.pid, live_runs=live, refused=stopped)
        try:
            pause(seconds)
        finally:
            back_at = now_ms()
            up = cluster.start_redis()
            up_at = now_ms()
            event(f"{name}_redis_started", pid=cluster.redis.pid, answers=up)
            disruptions[name] = dict(down_ms=down_at, back_ms=back_at, up_ms=up_at,
                                     stopped=stopped, up=up)

    def restart_redis():
        redis_down("redis", args.redis_down_s)

    def stop_redis_for_a_while():
        redis_down("redis_outage", args.redis_outage_s)

    def provider_outage():
        live = progress["live"]
        switched = model.outage(503).get("outage") == 503
        down_at = now_ms()
        event("provider_503", live_runs=live, switched=switched)
        try:
            pause(args.provider_outage_s)
        finally:
            back_at = now_ms()
            back = model.outage(None).get("outage") is None
            up_at = now_ms()
            event("provider_back", answers=back)
            disruptions["provider"] = dict(down_ms=down_at, back_ms=back_at, up_ms=up_at,
                                           switched=switched and back)

    def stop_postgres():
        live = progress["live"]
        stopping_at = now_ms()
        stopped, said = postgres.stop()
        down_at = now_ms()
        stopped = stopped and not postgres.answers()
        event("postgres_stopped", live_runs=live, stopped=stopped)
        try:
            pause(args.postgres_outage_s)
        finally:
            back_at = now_ms()
            up, said_up = postgres.start()
            up_at = now_ms()
            event("postgres_started", up=up)
            disruptions["postgres_stop"] = dict(stopping_ms=stopping_at, down_ms=down_at,
                                                back_ms=back_at, up_ms=up_at,
                                                stopped=stopped, started=up,
                                                output=f"{said} / {said_up}"[-500:])

    def restart_temporal():
        live = progress["live"]
        stopped = cluster.stop_temporal()
        down_at = now_ms()
        event("temporal_stopped", live_runs=live, stopped=stopped)
        back = threading.Event()
        with lock:
            submitted = [another_run(slugs[k % len(slugs)]) for k in range(args.temporal_runs)]
            temporal_runs.extend(submitted)

        def submit_and_watch(run):
            # Admitted while Temporal is down, then watched until it is back: what the run
            # view says meanwhile.
            submit_run(run, resend=False)
            while run.id and not back.is_set():
                status, _, view = http.request(run.workspace, apis[run.index % len(apis)], "GET",
                                               f"/v1/runs/{run.id}", keys[run.workspace])
                if status == 200 and isinstance(view, dict):
                    run.views_while_down.append((view.get("status"),
                                                 (view.get("status_reason") or "").split(":")[0]
                                                 or None))
                back.wait(1.0)

        watchers = [threading.Thread(target=submit_and_watch, args=(r,), daemon=True)
                    for r in submitted]
        for t in watchers:
            t.start()
        try:
            pause(args.temporal_down_s)
        finally:
            back_at = now_ms()
            up = cluster.start_temporal()
            up_at = now_ms()
            back.set()
            event("temporal_started", pid=cluster.temporal.pid, up=up,
                  submitted_meanwhile=sum(1 for r in submitted if r.id))
            for t in watchers:
                t.join()
            disruptions["temporal"] = dict(down_ms=down_at, back_ms=back_at, up_ms=up_at,
                                           stopped=stopped, started=up,
                                           runs=[r.index for r in submitted])

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

    sequence = [("redis_restart", restart_redis)]
    if args.provider_outage_s:
        sequence.append(("provider_outage", provider_outage))
    if args.postgres_outage_s:
        sequence.append(("postgres_stop", stop_postgres))
    if args.temporal_down_s:
        sequence.append(("temporal_restart", restart_temporal))
    sequence.append(("postgres_terminate", terminate_postgres))
    if args.redis_outage_s:
        sequence.append(("redis_outage", stop_redis_for_a_while))

    def drained(since_ms):
        """Whether a list read after `since_ms` shows no live run created before it."""
        with lock:
            return (progress["poll_started_ms"] > since_ms
                    and all(c >= since_ms for c in progress["live_created_ms"]))

    def chaos():
        next_kill = started + args.kill_every
        last_kill = -1e9
        pending = list(sequence)
        current = None  # (name, thread)
        drain = None  # (when the last disruption ended, ms; give up waiting at, monotonic)
        while not stop_chaos.is_set():
            now = time.monotonic()
            ended_fraction = progress["ended"] / n
            due = now >= next_kill or (not disruptions["kills"]
                                       and ended_fraction >= args.first_kill_at)
            may_kill = current is None or current[0] not in NO_KILLS_DURING
            if (due and may_kill and not all_ended.is_set()
                    and (not args.kills or len(disruptions["kills"]) < args.kills)):
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
            elif due and not may_kill:
                next_kill = now + 1.0  # as soon as the disruption is over
            if current is not None and not current[1].is_alive():
                drain = (now_ms(), now + args.drain_timeout_s)
                current = None
            if current is None and pending:
                if drain is None:
                    ready = ended_fraction >= args.first_disruption_at
                elif drained(drain[0]):
                    ready = True
                elif now >= drain[1]:
                    event("drain_timed_out", live_runs=progress["live"])
                    ready = True
                else:
                    ready = False
                if ready and progress["live"] > 0 and now - last_kill >= PG_AFTER_KILL_S:
                    name, action = pending.pop(0)
                    current = (name, threading.Thread(target=action, daemon=True))
                    current[1].start()
            if current is None and not pending:
                disruptions_done.set()
            stop_chaos.wait(0.1)
        if current is not None:
            current[1].join()
        disruptions_done.set()

    # -----------------------------------------------------------------------------------------
    readiness = outages.ReadinessWatch(apis)
    readiness.start()
    print("chaos: submitting", flush=True)
    chaos_thread = threading.Thread(target=chaos, daemon=True)
    chaos_thread.start()
    poll_thread = threading.Thread(target=poller, daemon=True)
    poll_thread.start()
    queues = {slug: collections.deque(r for r in runs if r.workspace == slug) for slug in slugs}
    pools = {slug: concurrent.futures.ThreadPoolExecutor(args.clients) for slug in slugs}
    futures = [pools[slug].submit(client, slug, queues[slug]) for slug in slugs
               for _ in range(args.clients)]

    def report():
        print(f"chaos: +{time.monotonic() - started:6.1f} s {accepted[0]}/{len(runs)} admitted, "
              f"{progress['ended']} ended, {progress['live']} live, "
              f"{len(disruptions['kills'])} kills", flush=True)

    last_report = wait_for_clients(futures, pools, report)
    submitted_s = time.monotonic() - started
    submitted_all.set()
    print(f"chaos: {accepted[0]}/{len(runs)} admitted in {submitted_s:.1f} s; waiting for them "
          "to end", flush=True)
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
    readiness.stop()
    stats = model.stats()

    # The processes: the APIs never restarted, the workers, Redis and Temporal as replaced.
    dead = [f"api {pid}" for pid in api_pids if gone(pid)]
    dead += [f"worker {slot} (pid {w.pid})" for slot, w in cluster.workers.items() if gone(w.pid)]
    dead += [f"redis (pid {cluster.redis.pid})"] if gone(cluster.redis.pid) else []
    dead += [f"temporal (pid {cluster.temporal.pid})"] if gone(cluster.temporal.pid) else []
    dead += [] if postgres.answers() else ["postgres"]
    after = connections(admin_url, prefix)

    # The final lists, for the checks.
    for slug in slugs:
        rows = list_workspace(slug, 1)
        if rows is not None:
            listed[slug] = rows

    # -----------------------------------------------------------------------------------------
    print("\nchecks:", flush=True)
    checks.check(not dead, "every process still up (APIs, current workers, Redis, Temporal, "
                 "Postgres)", ", ".join(dead))
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
    checks.check(stats.get("malformed", 0) == 0, "the provider understood every call",
                 f"{stats.get('calls')} calls: {stats.get('answered')} answered, "
                 f"{stats.get('refused')} refused (outage), {stats.get('malformed')} malformed")

    # Billing: reconcile and the export, as scripts/scale checks them; each run's rows are its
    # two model calls, so a retried call billed twice would show.
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
                  "not done: the runs ended first (raise --runs)"))
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
                  if pg else "not done: the runs ended first (raise --runs)"))

    # The outages of issue 17: each paused runs, none failed one.
    calls = [{"route": c.route, "sent_ms": to_wall_ms(c.sent), "received_ms": to_wall_ms(c.received),
              "status": c.status, "code": c.code} for c in http.calls]
    for name in ("provider", "postgres_stop", "temporal", "redis_outage"):
        w = disruptions[name]
        if w:
            w["live"] = live_during(w["down_ms"], w["up_ms"])
            w["answers"] = dict(outages.answers_between(calls, w["down_ms"], w["up_ms"]))
    provider = disruptions["provider"]
    if args.provider_outage_s:
        outages.check_provider(checks, provider, stats, runs, all_rows, seen,
                               lambda r: outages.retrying_events(apis[r.index % len(apis)],
                                                                 keys[r.workspace], r.id))
    if args.postgres_outage_s:
        outages.check_postgres_stop(checks, disruptions["postgres_stop"], readiness, apis)
    if args.temporal_down_s:
        outages.check_temporal(checks, disruptions["temporal"], calls, temporal_runs, all_rows,
                               readiness, apis)
    if args.redis_outage_s:
        outages.check_redis_outage(checks, disruptions["redis_outage"], calls, readiness, apis)
    postgres_windows = []
    if disruptions["postgres_stop"]:
        postgres_windows.append((disruptions["postgres_stop"]["stopping_ms"],
                                 disruptions["postgres_stop"]["up_ms"]))
    if pg:
        postgres_windows.append((pg["at_ms"], pg["at_ms"] + 1000))
    slack_ms = 1000 * max(10, 2 * (args.retry_cap_s or 60))
    outages.check_503_only_without_postgres(checks, calls, readiness, postgres_windows, slack_ms,
                                            started_ms)

    logs = scan_logs(log_dir)
    panics = {name: p for name, (_, _, p) in logs.items() if p}
    checks.check(not panics, "no panic in any longrun log", f"{panics}" if panics else "")

    write_calls(log_dir, http.calls, lambda c: {"sent_ms": to_wall_ms(c.sent),
                                                 "received_ms": to_wall_ms(c.received)})
    with open(os.path.join(log_dir, "readyz.jsonl"), "w") as f:
        for p in readiness.polls:
            f.write(json.dumps(dict(zip(("sent_ms", "api", "status", "ready", "checks",
                                         "received_ms"), p))) + "\n")

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
        by_route[re.sub(r"/v1/runs/[0-9a-f]+$", "/v1/runs/{id}", c.route)][label] += 1
    n503 = sum(v for k, v in statuses.items() if k.startswith("503"))

    def rel(ms):
        return f"+{(ms - started_ms) / 1000:.1f} s ({iso(ms)})"

    print("\nsummary:")
    print(f"  runs                 {len(runs)} submitted ({n} planned, "
          f"{len(runs) - n - len(temporal_runs)} more while disruptions were to come, "
          f"{len(temporal_runs)} while Temporal was down), {len(by_id)} admitted, {len(done)} "
          f"ended, {sum(1 for r in done if r['status'] == 'succeeded')} succeeded; "
          f"{args.workspaces} workspaces x {args.clients} clients")
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
    for line in outages.summary_lines(disruptions, calls, temporal_runs, all_rows, rel):
        print(line)
    if pg:
        print(f"  postgres terminate   {rel(pg['at_ms'])}: "
              f"{sum(len(v) for v in pg['killed'].values())} backends "
              f"({', '.join(f'{k} {len(v)}' for k, v in pg['killed'].items())}), {pg['active']} "
              f"not idle {pg['states']}; {pg['live']} runs in flight; readers' answers around it "
              f"{pg.get('reads')}")
    else:
        print("  postgres terminate   not done")
    for line in outages.readiness_lines(readiness, started_ms):
        print(line)
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
    print(f"  provider calls       {stats.get('calls')} ({stats.get('answered')} answered, "
          f"{stats.get('refused')} refused)")
    print(f"  ledger rows exported {len(export_rows)}")
    for name, (levels, messages, _) in logs.items():
        if levels:
            top = "; ".join(f"{m} x{v}" for m, v in messages.most_common(4))
            print(f"  log {name:<16} {dict(levels)}: {top}")

    summary = dict(runs=len(runs), planned=n, admitted=len(by_id), ended=len(done),
                   succeeded=sum(1 for r in done if r["status"] == "succeeded"),
                   wall_s=round(wall_s, 1), started=iso(started_ms), kills=kills,
                   disruptions={k: v for k, v in disruptions.items() if k != "kills"},
                   temporal_runs=[dict(index=r.index, id=r.id, answers=r.answers,
                                       views=r.views_while_down) for r in temporal_runs],
                   events=events, statuses=dict(statuses), n503=n503,
                   retries={f"{r} {s} {c}": v for (r, s, c), v in retries.items()},
                   provider_stats={k: v for k, v in stats.items() if k != "refused_runs"},
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
    if len(sys.argv) > 1 and sys.argv[1] == "--process-env":
        print(process_env(parse_args(sys.argv[2:])))
        sys.exit(0)
    setup_driver(parse_args, interrupted)
    status = 1
    try:
        status = main(sys.argv[1:])
    finally:
        if CLUSTER is not None:
            CLUSTER.stop_spawned()
        sys.stdout.flush()
    os._exit(status)
