"""Load client for the web desktop (bench/web-sessions.sh): N browser sessions' HTTP logins and
WebSockets, no browsers. Half the sessions are agents who go ready and not ready in turn every
TOGGLE seconds (each change is an agent event on their own socket and a wallboard change on
every supervisor's); the other half are supervisors watching the board. Prints messages per
second, app-operate's CPU over the run, and delays:
  - in → out:       app-operate received the event from the Flow-Server → it reached this client
  - board change:   the Flow-Server's change (changed_ms) → the push reached this client
  - agent action:   this client's POST ready/not-ready → the agent's state event arrived
usage: web_load.py BASE_URL APP_OPERATE_PID SESSIONS SECONDS [TOGGLE_SECONDS]   (FLOW_PID: the flow-server's, for its CPU)
"""
import asyncio
import json
import os
import sys
import time
import urllib.request
import http.cookiejar

from websockets.asyncio.client import connect

BASE, PID, N, SECONDS = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
TOGGLE = float(sys.argv[5]) if len(sys.argv) > 5 else 2.0
FLOW_PID = int(os.environ.get("FLOW_PID", "0"))
HZ = os.sysconf("SC_CLK_TCK")


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return int(parts[11]) + int(parts[12])


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Session:
    def __init__(self, code, password):
        self.code, self.password = code, password
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.csrf = ""

    def call(self, path, data=None, headers=None):
        req = urllib.request.Request(BASE + path, data=None if data is None else json.dumps(data).encode(),
                                     headers={"Content-Type": "application/json", **(headers or {})}, method="POST" if data is not None else "GET")
        with self.opener.open(req, timeout=30) as r:
            return json.loads(r.read())

    def login(self):
        token = self.call("api/login-token")["token"]
        self.call("api/login", {"code": self.code, "password": self.password, "mode": "console", "extension": "9" + self.code[1:]},
                  {"X-CSRF-Token": token})
        self.csrf = self.call("api/session")["csrf"]

    def cookie(self):
        return "; ".join(f"{c.name}={c.value}" for c in self.jar)


stats = {"messages": 0, "inout": [], "board": [], "action": [], "errors": 0}
pending = {}   # agent code → when its last state change was requested (s)


async def listen(s, stop):
    url = BASE.replace("http", "ws", 1) + "ws"
    async with connect(url, additional_headers={"Cookie": s.cookie(), "Origin": BASE.rstrip("/")}, max_size=8 << 20) as ws:
        while time.time() < stop:
            try:
                text = await asyncio.wait_for(ws.recv(), timeout=max(0.1, stop - time.time()))
            except asyncio.TimeoutError:
                break
            now = time.time() * 1000
            m = json.loads(text)
            stats["messages"] += 1
            if "at_ms" in m:
                stats["inout"].append(now - m["at_ms"])
            if m.get("type") == "board" and m.get("changed_ms"):
                stats["board"].append(now - m["changed_ms"])
            if m.get("type") == "agent" and m.get("kind") == "state" and s.code in pending:
                stats["action"].append(now - pending.pop(s.code) * 1000)


async def toggle(s, stop, loop):
    ready = False
    await asyncio.sleep(hash(s.code) % 1000 / 1000 * TOGGLE)
    while time.time() < stop - TOGGLE:
        ready = not ready
        pending[s.code] = time.time()
        try:
            await loop.run_in_executor(None, lambda: s.call("api/agent", {"action": "ready" if ready else "not-ready", "args": {"reason": "break"}},
                                                          {"X-CSRF-Token": s.csrf}))
        except Exception:
            stats["errors"] += 1
        await asyncio.sleep(TOGGLE)


def pct(xs, q):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * q))]


async def main():
    loop = asyncio.get_running_loop()
    agents = [Session(f"a{i:03d}", "bench-password") for i in range(N // 2)]
    sups = [Session(f"s{i:03d}", "bench-password") for i in range(N - N // 2)]
    t0 = time.time()
    sem = asyncio.Semaphore(16)

    async def login(s):
        async with sem:
            await loop.run_in_executor(None, s.login)
    await asyncio.gather(*(login(s) for s in agents + sups))
    print(f"logged in {len(agents)} agents and {len(sups)} supervisors in {time.time() - t0:.1f} s", flush=True)
    start = time.time() + 3
    stop = start + SECONDS
    listeners = [asyncio.create_task(listen(s, stop)) for s in agents + sups]
    await asyncio.sleep(3)   # every socket open, the first full boards in
    stats["messages"], stats["inout"], stats["board"], stats["action"] = 0, [], [], []
    c0, w0, f0, m0 = cpu_ticks(PID), time.time(), cpu_ticks(FLOW_PID) if FLOW_PID else 0, os.times()
    togglers = [asyncio.create_task(toggle(s, stop, loop)) for s in agents]
    await asyncio.gather(*togglers, return_exceptions=True)
    failures = [r for r in await asyncio.gather(*listeners, return_exceptions=True) if isinstance(r, Exception)]
    if failures:
        print(f"{len(failures)} WebSockets failed, e.g. {failures[0]!r}", flush=True)
    c1, w1, f1, m1 = cpu_ticks(PID), time.time(), cpu_ticks(FLOW_PID) if FLOW_PID else 0, os.times()
    cpu = (c1 - c0) / HZ / (w1 - w0) * 100
    flow_cpu = (f1 - f0) / HZ / (w1 - w0) * 100
    client_cpu = ((m1.user - m0.user) + (m1.system - m0.system)) / (w1 - w0) * 100
    print(json.dumps({
        "sessions": len(agents) + len(sups), "seconds": round(w1 - w0, 1), "messages_per_s": round(stats["messages"] / (w1 - w0)),
        "app_operate_cpu_pct": round(cpu, 1), "app_operate_rss_mib": round(rss_kib(PID) / 1024, 1),
        "flow_server_cpu_pct": round(flow_cpu, 1), "load_client_cpu_pct": round(client_cpu, 1),
        "inout_p50_ms": round(pct(stats["inout"], .5), 1), "inout_p99_ms": round(pct(stats["inout"], .99), 1),
        "board_change_p50_ms": round(pct(stats["board"], .5), 1), "board_change_p99_ms": round(pct(stats["board"], .99), 1),
        "agent_action_p50_ms": round(pct(stats["action"], .5), 1), "agent_action_p99_ms": round(pct(stats["action"], .99), 1),
        "agent_actions": len(stats["action"]), "errors": stats["errors"], "websocket_failures": len(failures)}), flush=True)


asyncio.run(main())
