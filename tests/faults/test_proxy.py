"""The fault proxy itself, with the real clients: it forwards, pauses, drops and refuses."""

import psycopg
import pytest
import redis

from .conftest import database_url, redis_url
from .sentinel import wait_for


def redis_client(proxy):
    return redis.Redis(port=proxy.port, socket_timeout=0.3, socket_connect_timeout=0.3)


def test_forwards_then_pauses_without_closing_then_carries_on(redis_proxy):
    client = redis_client(redis_proxy)
    assert client.ping() is True

    redis_proxy.pause()
    with pytest.raises(redis.TimeoutError):
        client.ping()
    assert redis_proxy.connections == 1  # nothing was closed

    redis_proxy.restore()
    assert client.ping() is True


def test_drop_closes_open_connections_and_refuse_turns_new_ones_away(redis_proxy):
    client = redis_client(redis_proxy)
    client.ping()

    redis_proxy.stop()
    assert redis_proxy.connections == 0
    with pytest.raises(redis.ConnectionError):
        client.ping()

    redis_proxy.restore()
    assert client.ping() is True


def test_hold_delays_a_request_past_its_client_giving_up_and_delivers_it_at_restore(redis_proxy):
    direct = redis.Redis.from_url(redis_url())
    client = redis.Redis.from_url(
        redis_url(redis_proxy.port), socket_timeout=0.3, socket_connect_timeout=0.3
    )
    direct.delete("proxy:held")

    redis_proxy.hold(b"proxy:held")
    assert client.ping() is True  # other requests go through
    with pytest.raises(redis.TimeoutError):
        client.set("proxy:held", 1)
    client.close()  # the client has given up on it
    assert direct.get("proxy:held") is None

    redis_proxy.restore()
    wait_for(lambda: direct.get("proxy:held") == b"1", "the held request to reach Redis")
    direct.delete("proxy:held")


@pytest.mark.django_db
def test_forwards_postgresql_and_drops_its_connections(postgres_proxy):
    url = database_url(postgres_proxy.port)
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
        postgres_proxy.drop()
        with pytest.raises(psycopg.OperationalError):
            conn.execute("SELECT 1")

    postgres_proxy.refuse()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=2)

    postgres_proxy.restore()
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
