"""The live event stream under load: N subscribers to /ws/events while events are written through
`POST /api/events` at R per second, beside a bare `websockets` server that broadcasts each message
as one pre-encoded frame to the same client (the reference: what two cores allow). Reports per
load the receive latency p50/p95/p99, messages lost and out of order, for both; then
`POST /api/events` throughput (wrk) with no subscriber, with the largest load's subscribers
connected but filtered to other events, and with them subscribed to every event. Run on demand
(`make bench-stream`), never from the tests.

    .venv/bin/python bench/stream.py [--loads 1000x20,100x200] [--duration 60]

The client (`bench/stream.py client ...`, its own process) holds every connection in one asyncio
loop, counts every event message, parses one in ten for its latency (receive time minus the time
the writer sent it, which the event carries in its details) and parses every message on the first
ten connections to check the order (positions strictly increasing). An event's latency so
includes its POST, commit and delivery.
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from statistics import quantiles

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

STREAM_EVENT_TYPE = "bench_stream"
CHECKERS = 10  # connections that parse every message, for the order check
PARSE_EVERY = 10
MARK = b'"sent_at"'


# -- The client: one asyncio loop holding every connection. --------------------------------------


async def _subscribe(number, url, headers, expected, state, opened):
    from websockets.asyncio.client import connect

    async with connect(
        url,
        additional_headers=headers,
        compression=None,
        max_size=None,
        open_timeout=120,
        ping_interval=None,
    ) as socket:
        opened.release()
        state["connected"] += 1
        count = last = 0
        checker = number < CHECKERS
        async for message in socket:
            data = message.encode() if isinstance(message, str) else message
            if MARK not in data:
                continue  # a control message (subscribed, resume), not an event
            count += 1
            if checker or count % PARSE_EVERY == 0:
                received = time.time()
                parsed = json.loads(data)
                if count % PARSE_EVERY == 0:
                    sent_at = _details(parsed)["sent_at"]
                    state["latencies"].append((received - sent_at) * 1000)
                if checker:
                    if parsed["position"] <= last:
                        state["out_of_order"] += 1
                    last = parsed["position"]
            if expected and count >= expected:
                break
        state["counts"].append(count)


def _details(message):
    """The writer's details of an event message: Brain's (the event, under `event` or at the top
    level) or the bare server's."""
    event = message.get("event", message)
    return event["details"]


async def _client(options):
    headers = {"Authorization": f"Token {options.token}"} if options.token else {}
    state = {"connected": 0, "latencies": [], "out_of_order": 0, "counts": []}
    opened = asyncio.Semaphore(50)  # handshakes in flight at once
    tasks = []
    for number in range(options.connections):
        await opened.acquire()
        tasks.append(
            asyncio.create_task(
                _subscribe(number, options.url, headers, options.expect, state, opened)
            )
        )
    while state["connected"] < options.connections:
        await asyncio.sleep(0.05)
    print("ready", flush=True)
    done, pending = await asyncio.wait(tasks, timeout=options.timeout)
    for task in pending:
        task.cancel()
    failed = sum(1 for task in done if task.exception() is not None)
    counts = state["counts"]
    print(
        json.dumps(
            {
                "latencies_ms": state["latencies"],
                "out_of_order": state["out_of_order"],
                "lost": sum(options.expect - count for count in counts)
                + options.expect * (len(pending) + failed),
                "failed_connections": failed,
            }
        ),
        flush=True,
    )


def client_main(arguments):
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", default="")
    parser.add_argument("--connections", type=int, required=True)
    parser.add_argument("--expect", type=int, default=0, help="events per connection (0: none)")
    parser.add_argument("--timeout", type=float, default=3600)
    asyncio.run(_client(parser.parse_args(arguments)))


# -- The reference: a bare websockets server broadcasting pre-encoded frames. -------------------


async def _bare(options):
    from websockets.asyncio.server import broadcast, serve

    clients = set()
    ready = asyncio.Event()

    async def handler(socket):
        clients.add(socket)
        if len(clients) >= options.connections:
            ready.set()
        try:
            await socket.wait_closed()
        finally:
            clients.discard(socket)

    async with serve(handler, "127.0.0.1", options.port, compression=None, ping_interval=None):
        print("listening", flush=True)
        await ready.wait()
        await asyncio.sleep(1)
        start = time.monotonic()
        for seq in range(1, options.rate * options.duration + 1):
            await asyncio.sleep(max(0.0, start + seq / options.rate - time.monotonic()))
            event = dict(SAMPLE_EVENT, id=seq, details={"seq": seq, "sent_at": time.time()})
            broadcast(clients, json.dumps({"op": "create", "position": seq, "event": event}))
        while clients:
            await asyncio.sleep(0.1)


def bare_main(arguments):
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--connections", type=int, required=True)
    parser.add_argument("--rate", type=int, required=True)
    parser.add_argument("--duration", type=int, required=True)
    asyncio.run(_bare(parser.parse_args(arguments)))


# An event as the API shows it, for the bare server's messages to weigh what Brain's do.
SAMPLE_EVENT = {
    "id": 0,
    "event_type": STREAM_EVENT_TYPE,
    "severity": "info",
    "message": "stream load test",
    "details": {},
    "source": "bench",
    "timestamp": "2026-12-07T12:00:00.000000Z",
    "created_at": "2026-12-07T12:00:00.000000Z",
}


# -- The driver. ---------------------------------------------------------------------------------


def _start_client(url, token, connections, expect, timeout):
    process = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "client",
            f"--url={url}",
            f"--token={token}",
            f"--connections={connections}",
            f"--expect={expect}",
            f"--timeout={timeout}",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline()
    if line.strip() != "ready":
        process.kill()
        raise RuntimeError(f"the client did not connect: {line!r}")
    return process


def _client_result(process):
    output, _ = process.communicate(timeout=3600)
    return json.loads(output.strip().splitlines()[-1])


def _summary(result):
    latencies = result["latencies_ms"]
    cuts = quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1 else [0] * 99
    return {
        "p50_ms": round(cuts[49], 1),
        "p95_ms": round(cuts[94], 1),
        "p99_ms": round(cuts[98], 1),
        "lost": result["lost"],
        "out_of_order": result["out_of_order"],
        "failed_connections": result["failed_connections"],
    }


def run_bare(connections, rate, duration, port):
    server = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "bare",
            f"--port={port}",
            f"--connections={connections}",
            f"--rate={rate}",
            f"--duration={duration}",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout.readline().strip() == "listening"
        client = _start_client(
            f"ws://127.0.0.1:{port}/", "", connections, rate * duration, duration + 60
        )
        return _summary(_client_result(client))
    finally:
        server.kill()
        server.wait()


def _write(base_url, token, rate, duration, threads=4):
    """POSTs `rate` events per second for `duration` s from `threads` keep-alive connections,
    each event's details carrying its sequence number and the time it was sent."""
    import http.client

    host, port = base_url.removeprefix("http://").split(":")
    start = time.monotonic() + 0.5
    total = rate * duration
    failures = []

    def writer(offset):
        connection = http.client.HTTPConnection(host, int(port), timeout=60)
        for seq in range(offset + 1, total + 1, threads):
            time.sleep(max(0.0, start + seq / rate - time.monotonic()))
            body = json.dumps(
                {
                    "event_type": STREAM_EVENT_TYPE,
                    "severity": "info",
                    "message": "stream load test",
                    "details": {"seq": seq, "sent_at": time.time()},
                    "source": "bench",
                }
            )
            connection.request(
                "POST",
                "/api/events",
                body,
                {"Authorization": f"Token {token}", "Content-Type": "application/json"},
            )
            response = connection.getresponse()
            response.read()
            if response.status != 201:
                failures.append(response.status)

    workers = [threading.Thread(target=writer, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return failures


def run_brain(base_url, token, connections, rate, duration):
    ws_url = base_url.replace("http://", "ws://") + f"/ws/events?event_type={STREAM_EVENT_TYPE}"
    client = _start_client(ws_url, token, connections, rate * duration, duration + 60)
    failures = _write(base_url, token, rate, duration)
    result = _summary(_client_result(client))
    result["failed_posts"] = len(failures)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loads", default="1000x20,100x200", help="subscribers x events/s")
    parser.add_argument("--duration", type=int, default=60)
    parser.add_argument("--port", type=int, default=8300)
    parser.add_argument("--post-duration", type=int, default=10)
    options = parser.parse_args()
    loads = [tuple(int(n) for n in load.split("x")) for load in options.loads.split(",")]

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "brain.settings.base")
    import django

    django.setup()
    from django.contrib.auth import get_user_model

    from bench.support import BRAIN_SERVER, running
    from bench.web import SERVER_ENV, wrk
    from brain.tokens import token_create

    user, _ = get_user_model().objects.get_or_create(username="bench-stream")
    token = token_create(user=user)
    base_url = f"http://127.0.0.1:{options.port}"
    environment = {
        **os.environ,
        **SERVER_ENV,
        "HOST": "127.0.0.1",
        "PORT": str(options.port),
    }
    results = {"loads": {}, "post": {}}
    for connections, rate in loads:
        name = f"{connections} subscribers x {rate} events/s"
        print(f"{name}: the bare server", flush=True)
        bare = run_bare(connections, rate, options.duration, options.port + 1)
        print(f"  {bare}", flush=True)
        print(f"{name}: Brain", flush=True)
        with running(
            BRAIN_SERVER,
            environment=environment,
            ready_url=f"{base_url}/health/ready",
            log_path=BASE_DIR / "var" / "bench-stream.log",
        ):
            brain = run_brain(base_url, token, connections, rate, options.duration)
        print(f"  {brain}", flush=True)
        results["loads"][name] = {"bare": bare, "Brain": brain}

    most = max(connections for connections, _ in loads)
    with running(
        BRAIN_SERVER,
        environment=environment,
        ready_url=f"{base_url}/health/ready",
        log_path=BASE_DIR / "var" / "bench-stream.log",
    ):
        post = {"method": "POST", "duration": options.post_duration, "connections": 16}
        url = f"{base_url}/api/events"
        results["post"]["no subscriber"] = wrk(url, [token], **post)
        ws_url = f"{base_url.replace('http://', 'ws://')}/ws/events"
        # Subscribers whose filter matches none of wrk's events: what their presence costs a
        # writer; then subscribers of every event: the fan-out on the same two cores as well.
        for label, query in [
            (f"{most} subscribers, none matching", f"?event_type={STREAM_EVENT_TYPE}"),
            (f"{most} subscribers of every event", ""),
        ]:
            client = _start_client(ws_url + query, token, most, 0, options.post_duration + 30)
            results["post"][label] = wrk(url, [token], **post)
            client.kill()
            client.wait()
    print(json.dumps(results["post"], indent=2), flush=True)

    out = BASE_DIR / "bench" / "results"
    out.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (out / f"stream-{stamp}.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "client":
        client_main(sys.argv[2:])
    elif len(sys.argv) > 1 and sys.argv[1] == "bare":
        bare_main(sys.argv[2:])
    else:
        main()
