#!/usr/bin/env python3
"""The outages of bench/chaos (issue 17: outages pause runs, they never fail them) as seen
from outside, and their checks (python3 standard library only).

  - ReadinessWatch polls every API's /readyz through the whole run;
  - retrying_events reads, after the run, the `provider.retrying` events of the runs the fake
    provider refused;
  - check_* judge each outage from what was recorded: the answers clients got (Http calls),
    the run lists the poller read (statuses seen), /readyz, the fake provider's own count of
    the calls it refused, Temporal's and Postgres's windows.
Windows and times are wall-clock milliseconds: an outage's window is {down_ms: when the
dependency was down, back_ms: when bringing it back began, up_ms: when it was back}.
"""

import collections
import concurrent.futures
import json
import threading
import urllib.error
import urllib.request

from scale import now_ms, parse_time_ms  # scripts/scale.py, on the path bench/chaos.py sets

# A dependency's state reaches /readyz within its check's timeout (2 s) and a poll (1 s).
READY_LAG_MS = 4000


class ReadinessWatch:
    """GET /readyz of every API once a second (one thread each, a slow answer delays only its
    own API) until stop(): polls as (sent ms, api, status or None, body status,
    {check: status}, answered ms)."""

    def __init__(self, apis, every=1.0):
        self.apis = apis
        self.every = every
        self.polls = []
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.threads = [threading.Thread(target=self._watch, args=(api,), daemon=True)
                        for api in apis]

    def start(self):
        for t in self.threads:
            t.start()

    def _watch(self, api):
        while not self.stopped.is_set():
            sent = now_ms()
            status, body = None, None
            try:
                with urllib.request.urlopen(api + "/readyz", timeout=5) as response:
                    status, body = response.status, response.read()
            except urllib.error.HTTPError as err:
                status, body = err.code, err.read()
            except OSError:
                pass
            try:
                answer = json.loads(body) if body else {}
            except ValueError:
                answer = {}
            checks = {k: (v or {}).get("status") for k, v in (answer.get("checks") or {}).items()}
            with self.lock:
                self.polls.append((sent, api, status, answer.get("status"), checks, now_ms()))
            self.stopped.wait(self.every)

    def stop(self):
        self.stopped.set()
        for t in self.threads:
            t.join()
        self.polls.sort()

    def between(self, a_ms, b_ms):
        """The polls sent at or after a_ms and answered by b_ms."""
        return [p for p in self.polls if a_ms <= p[0] and p[5] <= b_ms]


def retrying_events(api, key, run_id):
    """The `provider.retrying` events of a finished run (its stream replays the stored events
    and ends after `run.completed`): their data, or an error string."""
    request = urllib.request.Request(f"{api}/v1/runs/{run_id}/events",
                                     headers={"Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            text = response.read().decode(errors="replace")
    except (OSError, urllib.error.HTTPError) as err:
        return f"events unreadable: {err}"
    found, kind = [], None
    for line in text.splitlines():
        if line.startswith("event:"):
            kind = line[6:].strip()
        elif line.startswith("data:") and kind == "provider.retrying":
            try:
                found.append(json.loads(line[5:]))
            except ValueError:
                found.append({})
        elif not line:
            kind = None
    return found


def answers_between(calls, a_ms, b_ms, route=None):
    """Counter of the answers to requests sent within [a_ms, b_ms] (calls as dicts with
    sent_ms, route, status, code)."""
    counted = collections.Counter()
    for c in calls:
        if a_ms <= c["sent_ms"] <= b_ms and (route is None or c["route"] == route):
            counted["no answer" if c["status"] is None else
                    f"{c['status']} {c['code']}" if c["code"] and c["status"] >= 400 else
                    str(c["status"])] += 1
    return counted


def not_done(checks, w, claim):
    """Fails `claim` when its disruption, `w`, was not done (the runs ended first)."""
    if not w:
        checks.check(False, claim, "not done: the runs ended first")
    return not w


def down_for(w):
    """How long a disruption's dependency was down, and how many runs were in flight."""
    return f"down {(w['up_ms'] - w['down_ms']) / 1000:.1f} s, {w['live']} runs in flight"


def check_provider(checks, w, stats, runs, rows, seen, read_events):
    """The provider answered 503 for the window; every run it refused (the fake counts its
    refusals by prompt, unique per run) waited visibly (`waiting_provider` in the list, or
    `provider.retrying` events: `read_events(run)`) and succeeded; every run in flight across
    the whole window was refused at least once. Adds the figures to `w`."""
    if not_done(checks, w, "the provider answered 503 while runs were in flight"):
        return
    refused = stats.get("refused_runs", {})
    runs_by_question = {r.question: r for r in runs}
    refused_runs = [runs_by_question[q] for q in refused if q in runs_by_question]
    strangers = [q for q in refused if q not in runs_by_question]
    with concurrent.futures.ThreadPoolExecutor(8) as readers:
        events = dict(zip((r.id for r in refused_runs), readers.map(read_events, refused_runs)))
    throughout = [r for r in runs if r.id in rows
                  and parse_time_ms(rows[r.id]["created_at"]) < w["down_ms"]
                  and (rows[r.id].get("finished_at") is None
                       or parse_time_ms(rows[r.id]["finished_at"]) > w["up_ms"])]
    checks.check(w["switched"] and stats.get("refused", 0) > 0 and w["live"] > 0 and not strangers,
                 "the provider answered 503 to every call for the outage, runs in flight",
                 f"{stats.get('refused', 0)} calls refused, {len(refused_runs)} runs, "
                 f"{w['live']} runs in flight" + (f"; refusals of unknown prompts {strangers[:3]}"
                                                  if strangers else ""))
    missed = [r.index for r in throughout if r.question not in refused]
    checks.check(not missed, "every run in flight through the whole provider outage was refused",
                 f"{len(throughout)} in flight throughout" +
                 (f"; never refused: #{missed[:10]}" if missed else ""))
    shown = [r for r in refused_runs if "waiting_provider" in seen.get(r.id, ())]
    with_events = [r for r in refused_runs if isinstance(events.get(r.id), list) and events[r.id]]
    invisible = [r.index for r in refused_runs if r not in shown and r not in with_events]
    unreadable = {r.index: events[r.id] for r in refused_runs if isinstance(events.get(r.id), str)}
    checks.check(refused_runs and not invisible and not unreadable,
                 "every run the provider refused showed it was waiting",
                 f"{len(shown)} of {len(refused_runs)} seen `waiting_provider` in the run list, "
                 f"{len(with_events)} with `provider.retrying` events"
                 + (f"; neither: #{invisible[:10]}" if invisible else "")
                 + (f"; events unreadable: {list(unreadable.items())[:3]}" if unreadable else ""))
    wrong = [(r.index, (rows.get(r.id) or {}).get("status")) for r in refused_runs
             if (rows.get(r.id) or {}).get("status") != "succeeded"
             or (rows.get(r.id) or {}).get("result") != r.expected]
    checks.check(refused_runs and not wrong,
                 "every run the provider refused succeeded with the right answer",
                 f"{len(refused_runs) - len(wrong)} of {len(refused_runs)}"
                 + (f"; not: {wrong[:10]}" if wrong else ""))
    w.update(refused_calls=stats.get("refused"), refused_runs=len(refused_runs),
             shown_waiting=len(shown), with_events=len(with_events),
             retrying_events=sum(len(v) for v in events.values() if isinstance(v, list)),
             in_flight_throughout=len(throughout))


def check_readiness(checks, w, readiness, apis, answer, expected, claim):
    """Checks `claim`: every API's /readyz polls while `w` was down (from when the polls could
    notice) answered `expected` only, as `answer` reads a poll."""
    polls = readiness.between(w["down_ms"] + READY_LAG_MS, w["back_ms"])
    per_api = {api: collections.Counter(answer(p) for p in polls if p[1] == api) for api in apis}
    checks.check(all(c and set(c) == {expected} for c in per_api.values()), claim,
                 "; ".join(f"{api}: {dict(c)}" for api, c in per_api.items()))


# A /readyz answer while a dependency the API can do without is down, as `degraded` reads it.
DEGRADED = (200, "degraded", "unavailable")


def degraded(dependency):
    """How a /readyz poll reads when only `dependency` matters: its status, the overall
    state, and the dependency's."""
    return lambda p: (p[2], p[3], p[4].get(dependency))


def check_postgres_stop(checks, w, readiness, apis):
    """Postgres was stopped and started again with runs in flight; /readyz said 503 meanwhile."""
    if not_done(checks, w, "Postgres stopped and started again while runs were in flight"):
        return
    checks.check(w["stopped"] and w["started"] and w["live"] > 0,
                 "Postgres stopped and started again while runs were in flight",
                 down_for(w)
                 + (f"; pg_ctl: {w['output']}" if not (w["stopped"] and w["started"]) else ""))
    check_readiness(checks, w, readiness, apis, lambda p: p[2], 503,
                    "/readyz answered 503 on every API while Postgres was down")


def check_temporal(checks, w, calls, runs, rows, readiness, apis):
    """Temporal restarted on its state file with runs in flight; /readyz said 200 degraded
    meanwhile; runs submitted meanwhile were answered 202, shown `queued` with
    `scheduler_unavailable`, and started after."""
    if not_done(checks, w, "Temporal restarted while runs were in flight"):
        return
    checks.check(w["stopped"] and w["started"] and w["live"] > 0,
                 "the Temporal dev server restarted on its state file while runs were in flight",
                 down_for(w))
    check_readiness(checks, w, readiness, apis, degraded("temporal"), DEGRADED,
                    "/readyz answered 200 degraded (temporal unavailable) on every API meanwhile")
    posts = answers_between(calls, w["down_ms"], w["up_ms"], "POST /v1/runs")
    checks.check(posts and set(posts) <= {"202", "200"} and all(r.id for r in runs),
                 "runs submitted while Temporal was down were answered 202",
                 f"{len(runs)} runs, answers {dict(posts)}"
                 + (f"; not admitted #{[r.index for r in runs if not r.id]}"
                    if not all(r.id for r in runs) else ""))
    unqueued = [r.index for r in runs
                if not any(status == "queued" and (reason or "").startswith("scheduler_unavailable")
                           for status, reason in r.views_while_down)]
    checks.check(runs and not unqueued,
                 "each showed `queued` with status_reason scheduler_unavailable meanwhile",
                 f"views: {dict(collections.Counter(v for r in runs for v in r.views_while_down))}"
                 if not unqueued else f"never seen so: #{unqueued}")
    early, wrong = [], []
    for r in runs:
        row = rows.get(r.id) or {}
        started = row.get("started_at")
        if started is None or parse_time_ms(started) < w["up_ms"]:
            early.append((r.index, started))
        if row.get("status") != "succeeded" or row.get("result") != r.expected:
            wrong.append((r.index, row.get("status")))
    checks.check(runs and not early and not wrong,
                 "each started after Temporal returned and succeeded with the right answer",
                 f"started {spread_after(runs, rows, w['up_ms'])} after it answered again"
                 + (f"; started early or never: {early[:5]}" if early else "")
                 + (f"; not succeeded: {wrong[:5]}" if wrong else ""))


def check_redis_outage(checks, w, calls, readiness, apis):
    """Redis stopped for a while: requests kept being served, /readyz said 200 degraded."""
    if not_done(checks, w, "Redis stopped while runs were in flight"):
        return
    served = answers_between(calls, w["down_ms"], w["up_ms"])
    bad = {k: v for k, v in served.items() if k == "no answer" or k[0] == "5"}
    admitted = sum(v for k, v in answers_between(calls, w["down_ms"], w["up_ms"],
                                                 "POST /v1/runs").items() if k in ("200", "202"))
    checks.check(w["stopped"] and w["up"] and w["live"] > 0 and sum(served.values()) > 0
                 and not bad and admitted > 0,
                 "requests were served while Redis was down (runs admitted too)",
                 f"{down_for(w)}, answers {dict(served)}, {admitted} runs admitted")
    check_readiness(checks, w, readiness, apis, degraded("redis"), DEGRADED,
                    "/readyz answered 200 degraded (redis unavailable) on every API meanwhile")


def check_503_only_without_postgres(checks, calls, readiness, windows, slack_ms, started_ms):
    """No 503 (API answers and /readyz) outside the windows where Postgres was down or its
    connections were cut, each extended by `slack_ms` (pools reconnecting)."""
    def inside(sent, received):
        return any(a <= received and sent <= b + slack_ms for a, b in windows)

    stray = [c for c in calls if c["status"] == 503 and not inside(c["sent_ms"], c["received_ms"])]
    stray_ready = [p for p in readiness.polls if p[2] == 503 and not inside(p[0], p[5])]
    checks.check(not stray and not stray_ready,
                 "no 503 (API or /readyz) but while Postgres was down or its connections cut",
                 f"{sum(1 for c in calls if c['status'] == 503)} API 503s and "
                 f"{sum(1 for p in readiness.polls if p[2] == 503)} /readyz 503s, all within "
                 f"{len(windows)} window(s) (+{slack_ms / 1000:.0f} s)" if not (stray or stray_ready)
                 else "; ".join([f"{c['route']} {c['code']} at +{(c['sent_ms'] - started_ms) / 1000:.1f} s"
                                 for c in stray[:5]]
                                + [f"/readyz {p[1]} at +{(p[0] - started_ms) / 1000:.1f} s {p[4]}"
                                   for p in stray_ready[:5]]))


def spread_after(runs, rows, from_ms):
    delays = sorted((parse_time_ms(rows[r.id]["started_at"]) - from_ms) / 1000 for r in runs
                    if r.id in rows and rows[r.id].get("started_at"))
    if not delays:
        return "none"
    return f"{delays[0]:.1f}-{delays[-1]:.1f} s"


def summary_lines(disruptions, calls, temporal_runs, rows, rel):
    """The summary's lines about the outages (`rel(ms)` places a moment)."""
    lines = []
    for name, label in (("redis", "redis restart"), ("provider", "provider 503"),
                        ("postgres_stop", "postgres stopped"), ("temporal", "temporal down"),
                        ("redis_outage", "redis stopped")):
        w = disruptions[name]
        if not w:
            lines.append(f"  {label:<20} not done")
            continue
        answers = w.get("answers") or dict(answers_between(calls, w["down_ms"], w["up_ms"]))
        lines.append(f"  {label:<20} {rel(w['down_ms'])} for "
                     f"{(w['up_ms'] - w['down_ms']) / 1000:.1f} s, {w['live']} runs in flight; "
                     f"answers meanwhile {answers}")
    provider = disruptions["provider"]
    if provider and "refused_runs" in provider:
        lines.append(f"    provider: {provider['refused_calls']} calls refused, "
                     f"{provider['refused_runs']} runs refused "
                     f"({provider['in_flight_throughout']} in flight throughout), "
                     f"{provider['shown_waiting']} seen `waiting_provider` in the run list, "
                     f"{provider['with_events']} with `provider.retrying` events "
                     f"({provider['retrying_events']} in all)")
    temporal = disruptions["temporal"]
    if temporal and temporal_runs:
        views = collections.Counter(v for r in temporal_runs for v in r.views_while_down)
        answers = collections.Counter(s for r in temporal_runs for s, _ in r.answers)
        lines.append(f"    temporal: {len(temporal_runs)} runs submitted while down, answers "
                     f"{dict(answers)}; their views meanwhile {dict(views)}; started "
                     f"{spread_after(temporal_runs, rows, temporal['up_ms'])} after it answered "
                     "again")
    return lines


def readiness_lines(readiness, started_ms):
    """The summary's lines about /readyz: each API's answers other than `ready`, as spans of
    consecutive polls (from, to, answer)."""
    lines = ["  /readyz              (per API, other than 200 ready: from, to, answer)"]
    for api in sorted({p[1] for p in readiness.polls}):
        spans, current = [], None
        for sent, a, status, ready, checks, _ in readiness.polls:
            if a != api:
                continue
            down = ",".join(sorted(k for k, v in checks.items() if v != "ok"))
            state = f"{status} {ready or ''}".strip() + (f" ({down} unavailable)" if down else "")
            at = (sent - started_ms) / 1000
            if current and current[2] == state:
                current[1] = at
                current[3] += 1
            else:
                current = [at, at, state, 1]
                spans.append(current)
        lines += [f"    {api} +{a:.0f} s to +{b:.0f} s: {state} ({count} polls)"
                  for a, b, state, count in spans if state != "200 ready"]
    return lines
