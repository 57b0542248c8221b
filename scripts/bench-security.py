#!/usr/bin/env python3
"""Two figures of the security work, measured against a real `glidepath serve` on SQLite:

  alert-list  latency of the web UI's AlertList query for a page of 100 alerts (each with its
              source, policy and, for a third of them, an assignee), 200 runs after 20 warm-ups;
  login-flood the webhook's p50/p99 with no load beside it, then while 8 clients flood /graphql
              with batched and aliased `login` operations for 30 s, and the server's peak RSS
              (VmHWM) over the whole run.

Usage: scripts/bench-security.py --bin target/release/glidepath [--baseline-bin OLD] [--only alert-list|login-flood]
With --baseline-bin, every figure is measured for both binaries in the same run, baseline first.
Standard library only; prints a Markdown table.
"""

import argparse
import http.client
import json
import os
import pathlib
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import uuid

ROOT = pathlib.Path(__file__).resolve().parent.parent
ADMIN_EMAIL = "bench@example.com"
ADMIN_PASSWORD = "bench-password-1"
OPERATIONS = (ROOT / "frontend/src/operations.graphql").read_text()


def operation(name):
    """One operation of the UI's document (so an older server, without the newer ones, takes it)."""
    start = OPERATIONS.index(f"query {name}(")
    end = OPERATIONS.index("\n}\n", start) + 3
    return OPERATIONS[start:end]

INCIDENT = json.loads((ROOT / "tests/fixtures/servicenow/incident-new.json").read_text())


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, binary):
        binary = os.path.abspath(binary)
        self.dir = tempfile.TemporaryDirectory(prefix="glidepath-bench-")
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("GLIDEPATH_")}
        env.update(
            GLIDEPATH_LISTEN=f"127.0.0.1:{self.port}",
            GLIDEPATH_DATABASE_URL=f"sqlite://{self.dir.name}/glidepath.db",
            GLIDEPATH_SECRET_KEY_FILE=f"{self.dir.name}/glidepath.key",
            GLIDEPATH_ADMIN_EMAIL=ADMIN_EMAIL,
            GLIDEPATH_ADMIN_PASSWORD=ADMIN_PASSWORD,
            RUST_LOG="warn",
        )
        self.proc = subprocess.Popen(
            [binary, "serve"], env=env, cwd=self.dir.name,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
        )
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                status, _ = self.request("GET", "/healthz")
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("glidepath did not start")

    def connection(self):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)

    def request(self, method, path, body=None, headers=None, conn=None):
        own = conn is None
        conn = conn or self.connection()
        data = json.dumps(body).encode() if body is not None else None
        hdrs = {"Content-Type": "application/json"} if data is not None else {}
        hdrs.update(headers or {})
        conn.request(method, path, body=data, headers=hdrs)
        response = conn.getresponse()
        payload = response.read()
        if own:
            conn.close()
        return response.status, payload

    def gql(self, query, variables=None, token=None, conn=None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        status, payload = self.request(
            "POST", "/graphql", {"query": query, "variables": variables or {}}, headers, conn)
        answer = json.loads(payload)
        if status != 200 or answer.get("errors"):
            raise RuntimeError(f"GraphQL {status}: {payload[:300]!r}")
        return answer["data"]

    def peak_rss_mib(self):
        for line in pathlib.Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.dir.cleanup()


def setup(server):
    token = server.gql(
        "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }",
        {"e": ADMIN_EMAIL, "p": ADMIN_PASSWORD})["login"]["token"]
    admin = server.gql("{ me { id } }", token=token)["me"]["id"]
    policy = server.gql(
        "mutation($u: [ID!]!) { createEscalationPolicy(input: { name: \"Bench\", routingKey: \"bench\", "
        "rules: [{ escalationTimeoutMinutes: 30, userIds: $u }] }) { id } }",
        {"u": [admin]}, token)["createEscalationPolicy"]["id"]
    source = server.gql(
        "mutation($p: ID!) { createAlertSource(input: { name: \"Bench\", escalationPolicyId: $p, "
        "integrationType: SERVICENOW }) { integrationKey } }",
        {"p": policy}, token)["createAlertSource"]
    return token, source["integrationKey"]


def post_incident(server, key, conn=None):
    event = dict(INCIDENT, sys_id=uuid.uuid4().hex, state="1", incident_state="1", sys_mod_count="0")
    started = time.perf_counter()
    status, payload = server.request("POST", f"/api/v1/events/servicenow/{key}", event, conn=conn)
    elapsed = time.perf_counter() - started
    if status not in (200, 201):
        raise RuntimeError(f"webhook {status}: {payload[:200]!r}")
    return elapsed, json.loads(payload).get("alertId")


def percentile(samples, p):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def ms(seconds):
    return f"{seconds * 1000:.2f}"


def alert_list(binary):
    server = Server(binary)
    try:
        token, key = setup(server)
        ids = [post_incident(server, key)[1] for _ in range(100)]
        for alert_id in ids[::3]:
            server.gql("mutation($id: ID!) { acceptAlert(id: $id) { id } }", {"id": alert_id}, token)
        conn = server.connection()
        variables = {"first": 100, "status": None, "priority": None, "alertSourceId": None, "after": None}
        body = {"query": operation("AlertList"), "variables": variables}
        headers = {"Authorization": f"Bearer {token}"}
        samples = []
        for i in range(220):
            started = time.perf_counter()
            status, payload = server.request("POST", "/graphql", body, headers, conn)
            elapsed = time.perf_counter() - started
            answer = json.loads(payload)
            if status != 200 or answer.get("errors") or len(answer["data"]["alerts"]["nodes"]) != 100:
                raise RuntimeError(f"AlertList {status}: {payload[:300]!r}")
            if i >= 20:
                samples.append(elapsed)
        return {"p50 ms": ms(statistics.median(samples)), "p99 ms": ms(percentile(samples, 99))}
    finally:
        server.stop()


def webhook_latencies(server, key, seconds):
    conn = server.connection()
    samples = []
    end = time.time() + seconds
    while time.time() < end:
        samples.append(post_incident(server, key, conn)[0])
    return samples


def flood(server, stop):
    batch = [{"query": "mutation { a: login(email: \"%s\", password: \"guess-%d\") { token } "
                       "b: login(email: \"%s\", password: \"guess-%d\") { token } }"
                       % (ADMIN_EMAIL, i, ADMIN_EMAIL, i + 1)} for i in range(0, 400, 2)]
    conn = server.connection()
    sent = 0
    while not stop.is_set():
        try:
            conn.request("POST", "/graphql", body=json.dumps(batch).encode(),
                         headers={"Content-Type": "application/json"})
            conn.getresponse().read()
            sent += 1
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = server.connection()
    return sent


def login_flood(binary):
    server = Server(binary)
    try:
        _, key = setup(server)
        quiet = webhook_latencies(server, key, 15)
        stop = threading.Event()
        counts = []
        threads = [threading.Thread(target=lambda: counts.append(flood(server, stop))) for _ in range(8)]
        for t in threads:
            t.start()
        time.sleep(1)
        loaded = webhook_latencies(server, key, 29)
        stop.set()
        for t in threads:
            t.join(120)
        return {
            "webhook p50 quiet ms": ms(statistics.median(quiet)),
            "webhook p99 quiet ms": ms(percentile(quiet, 99)),
            "webhook p50 flooded ms": ms(statistics.median(loaded)),
            "webhook p99 flooded ms": ms(percentile(loaded, 99)),
            "flood requests": str(sum(counts)),
            "peak RSS MiB": f"{server.peak_rss_mib():.0f}",
        }
    finally:
        server.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", required=True)
    parser.add_argument("--baseline-bin")
    parser.add_argument("--only", choices=["alert-list", "login-flood"])
    args = parser.parse_args()
    binaries = [("baseline", args.baseline_bin)] if args.baseline_bin else []
    binaries.append(("this build", args.bin))
    for name, run in [("alert-list", alert_list), ("login-flood", login_flood)]:
        if args.only and args.only != name:
            continue
        rows = [(label, run(binary)) for label, binary in binaries]
        keys = list(rows[0][1].keys())
        print(f"\n### {name}\n")
        print("| binary | " + " | ".join(keys) + " |")
        print("|---|" + "---|" * len(keys))
        for label, figures in rows:
            print(f"| {label} | " + " | ".join(figures[k] for k in keys) + " |")


if __name__ == "__main__":
    main()
