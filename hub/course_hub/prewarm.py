"""Pre-warm a workshop: start a course group's servers before it begins.

    python -m course_hub.prewarm --group nbgrader-dl101 --start-at 2026-12-07T09:00+05:30

run inside the hub container (it reads ``HUB_OPS_API_TOKEN``; ``--api-url`` defaults to
the hub's own API), some minutes before the workshop: how long N students take is in
``docs/capacity.md``. It

1. asks the hub to start the server of every member of the group that has none, at most
   ``--rate`` requests a second (the hub's spawn line starts them a few at a time);
2. reports progress (running, starting, failed, to do) every few seconds; a member who
   never logged in has no roll number and cannot be pre-warmed (reported, skipped);
3. keeps the pre-warmed servers out of the idle culler until ``--start-at``: it reports
   activity for them, and for those still starting, every ``--touch-every`` seconds
   (the culler counts idleness from a server's last activity), then exits. From the
   start time on, the culler's own timeout applies: a server nobody claims is stopped
   ``HUB_CULL_IDLE_SECONDS`` after the workshop began, one a student uses lives on.

A student who logs in to a pre-warmed server is on their running server at once. On
Kubernetes the same command works with KubeSpawner; z2jh's user placeholders and image
pre-puller keep nodes and images ready, this keeps the servers themselves ready.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import time
from dataclasses import dataclass, field
from urllib.parse import quote

import requests

DEFAULT_API_URL = "http://127.0.0.1:8081/hub/api"


@dataclass
class Progress:
    """What became of each member: name -> "running", "starting", "failed: ...", "skipped"."""

    states: dict = field(default_factory=dict)

    def count(self, prefix):
        return sum(1 for s in self.states.values() if s.startswith(prefix))

    def line(self, group, total):
        todo = total - len(self.states)
        return (f"prewarm {group}: {self.count('running')} running, "
                f"{self.count('starting')} starting, {self.count('failed')} failed, "
                f"{todo} to request")


class HubAPI:
    """The few hub REST calls pre-warming needs, with the ops service's token."""

    def __init__(self, url, token, timeout=30):
        self.url = url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"token {token}"
        self.timeout = timeout

    def _call(self, method, path, **kwargs):
        return self.session.request(method, f"{self.url}{path}", timeout=self.timeout, **kwargs)

    def members(self, group):
        r = self._call("GET", f"/groups/{quote(group, safe='')}")
        if r.status_code == 404:
            raise SystemExit(f"prewarm: the hub has no group {group!r}")
        r.raise_for_status()
        return sorted(r.json()["users"])

    def server(self, name):
        """The user's default server model, or None when it is not running or starting."""
        r = self._call("GET", f"/users/{quote(name, safe='')}")
        r.raise_for_status()
        return r.json().get("servers", {}).get("")

    def start(self, name):
        """(status, message) of asking for the user's server."""
        r = self._call("POST", f"/users/{quote(name, safe='')}/server")
        try:
            message = r.json().get("message", "")
        except ValueError:
            message = r.text[:200]
        return r.status_code, message

    def touch(self, name, when):
        """Report activity of the user's server (not of the user) at ``when``."""
        stamp = when.isoformat().replace("+00:00", "Z")
        r = self._call("POST", f"/users/{quote(name, safe='')}/activity",
                       json={"servers": {"": {"last_activity": stamp}}})
        return r.status_code == 200


def parse_start(text, now=None):
    """An ISO 8601 time; without a zone it is the machine's local time."""
    when = datetime.datetime.fromisoformat(text)
    if when.tzinfo is None:
        when = when.astimezone()
    when = when.astimezone(datetime.UTC)
    now = now or datetime.datetime.now(datetime.UTC)
    if when <= now:
        raise SystemExit(f"prewarm: --start-at {text} is not in the future")
    return when


class Prewarm:
    """One pre-warming run: requests at ``rate``, activity every ``touch_every`` s for
    every server that is up, until ``start_at``."""

    def __init__(self, api, group, members, start_at, rate, touch_every, say=print):
        self.api, self.group, self.members = api, group, members
        self.start_at, self.gap, self.touch_every = start_at, 1.0 / rate, touch_every
        self.say, self.progress, self._shown, self._touched = say, Progress(), None, None

    def run(self):
        """Request, watch and keep warm; returns when the workshop starts."""
        last = None
        for name in self.members:
            if self.api.server(name):
                self.progress.states[name] = "running"
                continue
            if last is not None:
                self._wait(last + self.gap)
            last = time.monotonic()
            self._request(name)
        self._report()
        while (left := (self.start_at - datetime.datetime.now(datetime.UTC))
               .total_seconds()) > 0:
            self._wait(time.monotonic() + min(left, self.touch_every))
        self._touch(final=True)

    def _request(self, name):
        status, message = self.api.start(name)
        if status in (201, 202):
            self.progress.states[name] = "starting"
        elif status == 400 and "already running" in message:
            self.progress.states[name] = "running"
        else:
            self.progress.states[name] = f"failed: {status} {message}"
            self.say(f"prewarm: {name} not started: {status} {message} (never logged in, "
                     "so no roll number? see the hub log)")

    def _wait(self, until):
        """Sleep until ``until`` (monotonic), touching and watching on schedule."""
        while True:
            if self._touched is None or time.monotonic() >= self._touched + self.touch_every:
                self._watch()
                self._touch()
            left = min(until, self._touched + self.touch_every) - time.monotonic()
            if time.monotonic() >= until:
                return
            time.sleep(max(0.0, left))

    def _watch(self):
        for name, state in list(self.progress.states.items()):
            if state == "starting":
                server = self.api.server(name)
                if server is None:
                    self.progress.states[name] = "failed: stopped while starting"
                    self.say(f"prewarm: {name} failed to start (see the hub log)")
                elif server.get("ready"):
                    self.progress.states[name] = "running"
        self._report()

    def _touch(self, final=False):
        """Report activity of the servers that run or start (at the start time at the
        latest). A starting server is touched too: it is ready with a fresh activity
        stamp, so a culler cannot take it in the moment before this run sees it ready."""
        now = datetime.datetime.now(datetime.UTC)
        states = self.progress.states
        names = [n for n, state in states.items() if state in ("running", "starting")]
        touched = {name: self.api.touch(name, min(now, self.start_at)) for name in names}
        alive = sum(ok for name, ok in touched.items() if states[name] == "running")
        self._touched = time.monotonic()
        if final:
            self.say(f"prewarm {self.group}: the workshop starts; {alive} pre-warmed "
                     "server(s) handed to the idle culler's normal timeout")

    def _report(self):
        line = self.progress.line(self.group, len(self.members))
        if line != self._shown:
            self._shown = line
            self.say(line)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m course_hub.prewarm",
        description="Start a group's servers before a workshop and keep them from the idle "
                    "culler until it starts.")
    parser.add_argument("--group", required=True,
                        help="hub group to pre-warm, e.g. nbgrader-dl101 (a course's students)")
    parser.add_argument("--start-at", required=True,
                        help="when the workshop starts (ISO 8601; no zone = local time)")
    parser.add_argument("--rate", type=float, default=0.5,
                        help="server start requests per second (default 0.5; see "
                             "docs/capacity.md for what a machine sustains)")
    parser.add_argument("--touch-every", type=float, default=60.0,
                        help="seconds between activity reports; keep it well below "
                             "HUB_CULL_IDLE_SECONDS (default 60)")
    parser.add_argument("--api-url", default=os.environ.get("JUPYTERHUB_API_URL",
                                                            DEFAULT_API_URL))
    args = parser.parse_args(argv)
    token = os.environ.get("HUB_OPS_API_TOKEN") or os.environ.get("JUPYTERHUB_API_TOKEN")
    if not token:
        parser.error("no token: set HUB_OPS_API_TOKEN (the hub's ops service token)")
    if args.rate <= 0 or args.touch_every <= 0:
        parser.error("--rate and --touch-every must be positive")
    start_at = parse_start(args.start_at)

    api = HubAPI(args.api_url, token)
    members = api.members(args.group)
    print(f"prewarm {args.group}: {len(members)} member(s), workshop at "
          f"{start_at.isoformat()}, {args.rate:g} start request(s)/s", flush=True)
    run = Prewarm(api, args.group, members, start_at, args.rate, args.touch_every,
                  say=lambda text: print(text, flush=True))
    run.run()
    return 0 if not run.progress.count("failed") else 3


if __name__ == "__main__":
    sys.exit(main())
