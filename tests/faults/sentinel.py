"""A Redis master, its replica and three Sentinels, started from /usr/bin/redis-server on free
ports in a directory of their own, for the failover tests."""

import subprocess
import time
from pathlib import Path

import redis

from tests.support import free_port

SERVICE = "brain"
# Seconds a server or a failover may take to come up: a bound for a stuck test, never a measure.
WAIT = 20


def wait_for(condition, what):
    """Calls `condition` until it is true (a RedisError counts as false), at most WAIT seconds."""
    deadline = time.monotonic() + WAIT
    while True:
        try:
            if condition():
                return
        except redis.RedisError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting for {what}")
        time.sleep(0.05)


class SentinelGroup:
    """The servers, each a process of its own, stopped by `stop()`."""

    def __init__(self, directory):
        self.directory = Path(directory)
        self.processes = []
        self.master_port = free_port()
        self.replica_port = free_port()
        self.sentinel_ports = [free_port() for _ in range(3)]
        self._failover_deadline = None

    def start(self):
        # The master refuses writes while no replica is in step with it: a demoted master still
        # reachable by a client never takes a write that the promoted replica would lose.
        common = ["--save", "", "--appendonly", "no", "--bind", "127.0.0.1"]
        common += ["--repl-diskless-sync-delay", "0"]
        common += ["--min-replicas-to-write", "1", "--min-replicas-max-lag", "10"]
        self._run("master", [*common, "--port", str(self.master_port)])
        replica_of = ["--replicaof", "127.0.0.1", str(self.master_port)]
        self._run("replica", [*common, "--port", str(self.replica_port), *replica_of])
        wait_for(
            lambda: (
                self.client(self.replica_port).info("replication")["master_link_status"] == "up"
            ),
            "the replica to sync",
        )
        for port in self.sentinel_ports:
            config = self.directory / f"sentinel-{port}.conf"
            config.write_text(
                f"port {port}\n"
                "bind 127.0.0.1\n"
                f"dir {self.directory}\n"
                f"sentinel monitor {SERVICE} 127.0.0.1 {self.master_port} 2\n"
                f"sentinel down-after-milliseconds {SERVICE} 1000\n"
                f"sentinel failover-timeout {SERVICE} 5000\n"
            )
            self._run(f"sentinel-{port}", [str(config), "--sentinel"], config_first=True)
        wait_for(
            lambda: all(
                self.client(port).sentinel_master(SERVICE)["num-slaves"] == 1
                and self.client(port).sentinel_master(SERVICE)["num-other-sentinels"] == 2
                for port in self.sentinel_ports
            ),
            "the Sentinels to know the replica and each other",
        )
        return self

    def _run(self, name, arguments, config_first=False):
        command = ["/usr/bin/redis-server", *arguments]
        with (self.directory / f"{name}.log").open("w") as log:
            self.processes.append(
                subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=self.directory)
            )
        if not config_first:
            port = int(arguments[arguments.index("--port") + 1])
            wait_for(lambda: self.client(port).ping(), f"{name} to answer")

    @staticmethod
    def client(port):
        return redis.Redis(port=port, socket_timeout=2, decode_responses=True)

    @property
    def sentinels(self):
        """REDIS_SENTINELS for this group."""
        return ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)

    def master(self):
        """The port of the master the Sentinels name now."""
        _, port = self.client(self.sentinel_ports[0]).sentinel_get_master_addr_by_name(SERVICE)
        return int(port)

    def fail_over(self):
        """Asks a Sentinel to promote the replica; returns the ports (old master, new master)
        without waiting for the promotion."""
        old = self.master()
        new = self.replica_port if old == self.master_port else self.master_port
        self.client(self.sentinel_ports[0]).execute_command("SENTINEL", "FAILOVER", SERVICE)
        return old, new

    def failed_over(self, old, new):
        """True once every Sentinel names `new` the master and `old` replicates from it; raises
        AssertionError when that takes longer than WAIT after the first call."""
        if self._failover_deadline is None:
            self._failover_deadline = time.monotonic() + WAIT
        try:
            done = (
                all(
                    int(self.client(port).sentinel_get_master_addr_by_name(SERVICE)[1]) == new
                    for port in self.sentinel_ports
                )
                and self.client(new).info("replication")["role"] == "master"
                and self.client(old).info("replication").get("master_link_status") == "up"
            )
        except redis.RedisError:
            done = False
        if done:
            self._failover_deadline = None
        elif time.monotonic() > self._failover_deadline:
            raise AssertionError("the failover did not end")
        return done

    def stop(self):
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
