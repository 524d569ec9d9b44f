"""A TCP proxy that injects network faults between Brain and PostgreSQL or Redis.

It listens on an ephemeral loopback port and forwards every connection to the real service. A test
points Brain at `proxy.port` and then, while the service itself keeps running for everyone else:

- `pause()`: stops forwarding without closing anything; new connections are accepted by the kernel
  but never answered. The service looks hung (a network partition, `CLIENT PAUSE`).
- `drop()`: closes every open connection, as a server that restarts does.
- `refuse(after=0)`: refuses every new connection (reset at once), past the next `after` ones;
  with `drop()`, a stopped server.
- `hold(marker)`: forwards as before, but holds what a client sends from the first bytes that
  contain `marker` on (a Redis command's name, say): the request is delayed in the network, and
  its client times out. Each client's other connections carry on.
- `restore()`: forwards again; connections held by a pause carry on where they stopped, and held
  requests are delivered, also those whose client has since closed its connection (their
  replies are dropped): they reach the service late.
"""

import contextlib
import selectors
import socket
import struct
import threading

_LINGER_RESET = struct.pack("ii", 1, 0)  # close() sends a reset rather than a FIN
_POLL_SECONDS = 0.02


def _reset(sock):
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


class _Link:
    """One client connection and its upstream connection, pumped by one thread."""

    def __init__(self, proxy, client, upstream):
        self.proxy = proxy
        self.client = client
        self.upstream = upstream
        self.closed = threading.Event()

    def run(self):
        peers = {self.client: self.upstream, self.upstream: self.client}
        held = bytearray()  # bytes from the client that `hold()` keeps from the service
        client_gone = False  # the client closed its end while its request was held
        with selectors.DefaultSelector() as selector:
            for sock in peers:
                selector.register(sock, selectors.EVENT_READ)
            try:
                while not self.closed.is_set():
                    if self.proxy.paused.is_set():
                        self.proxy.forwarding.wait(_POLL_SECONDS)
                        continue
                    if held and self.proxy.held_marker is None:
                        self.upstream.sendall(held)
                        held.clear()
                        if client_gone:  # the service answers, then sees the end
                            self.upstream.shutdown(socket.SHUT_WR)
                    for key, _ in selector.select(_POLL_SECONDS):
                        if self.closed.is_set() or self.proxy.paused.is_set():
                            break
                        data = key.fileobj.recv(65536)
                        if key.fileobj is self.client and (held or self.proxy.holds(data)):
                            if not data:
                                selector.unregister(self.client)
                                client_gone = True
                            held += data
                            break
                        if not data:
                            return
                        if not client_gone:
                            peers[key.fileobj].sendall(data)
            except OSError:
                return
            finally:
                self.close()

    def close(self):
        self.closed.set()
        _reset(self.client)
        _reset(self.upstream)
        self.proxy.forget(self)


class FaultProxy:
    """Forwards 127.0.0.1:`port` to `upstream` ((host, port)) until `close()`; see the module."""

    def __init__(self, upstream):
        self.upstream = upstream
        self.paused = threading.Event()
        self.forwarding = threading.Event()
        self.forwarding.set()
        self.refusing = threading.Event()
        self.refused_past = 0  # while refusing, connections past this many accepted are refused
        self.held_marker = None
        self._links = set()
        self.accepted = 0  # connections accepted, forwarded or refused
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        self._listener.settimeout(_POLL_SECONDS)
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept_loop, name="fault-proxy", daemon=True)
        self._thread.start()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def url(self, template):
        """`template` with `{port}` filled in: `proxy.url("redis://127.0.0.1:{port}/6")`."""
        return template.format(port=self.port)

    @property
    def connections(self):
        """How many client connections are open through the proxy."""
        with self._lock:
            return len(self._links)

    def pause(self):
        self.forwarding.clear()
        self.paused.set()

    def refuse(self, after=0):
        self.refused_past = self.accepted + after
        self.refusing.set()

    def hold(self, marker):
        self.held_marker = marker

    def holds(self, data):
        """Whether `data`, sent by a client, is to be held (see `hold()`)."""
        marker = self.held_marker
        return marker is not None and marker in data

    def drop(self):
        with self._lock:
            links = list(self._links)
        for link in links:
            link.close()

    def stop(self):
        """The service as if stopped: open connections closed, new ones refused."""
        self.refuse()
        self.drop()

    def restore(self):
        self.held_marker = None
        self.refusing.clear()
        self.paused.clear()
        self.forwarding.set()

    def close(self):
        self._stopped.set()
        self.forwarding.set()
        self._thread.join(timeout=5)
        self._listener.close()
        self.drop()

    def forget(self, link):
        with self._lock:
            self._links.discard(link)

    def _accept_loop(self):
        while not self._stopped.is_set():
            if self.paused.is_set():  # leave new connections in the kernel's backlog, unanswered
                self.forwarding.wait(_POLL_SECONDS)
                continue
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            if self.refusing.is_set() and self.accepted > self.refused_past:
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                _reset(client)
                continue
            client.setblocking(True)
            upstream.settimeout(None)
            for sock in (client, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            link = _Link(self, client, upstream)
            with self._lock:
                self._links.add(link)
            threading.Thread(target=link.run, name="fault-proxy-link", daemon=True).start()
