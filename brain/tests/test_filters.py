import pytest

from events.tests.factories import SystemEventFactory
from scheduling.tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db


def pages(client, path, count, limit=2):
    """The ids of every page of a list, in order, fetched `limit` at a time."""
    return [
        row["id"]
        for offset in range(0, count, limit)
        for row in client.get(f"{path}&limit={limit}&offset={offset}").json()["results"]
    ]


def test_event_pages_with_equal_keys_neither_overlap_nor_skip(api_client):
    # Inserted in descending id order, so the table's physical order is not the ids'.
    for event_id in range(5, 0, -1):
        SystemEventFactory(id=event_id, severity="info")

    assert pages(api_client, "/api/events?ordering=severity", 5) == [1, 2, 3, 4, 5]
    assert pages(api_client, "/api/events?ordering=-severity", 5) == [5, 4, 3, 2, 1]


def test_an_ordering_by_the_primary_key_is_kept(api_client):
    for event_id in range(3, 0, -1):
        SystemEventFactory(id=event_id, severity="info")

    assert pages(api_client, "/api/events?ordering=severity,-id", 3) == [3, 2, 1]


def test_project_pages_with_equal_keys_neither_overlap_nor_skip(api_client, user):
    for project_id in range(5, 0, -1):
        ProjectFactory(id=project_id, user=user, name="same")

    assert pages(api_client, "/api/projects?ordering=name", 5) == [1, 2, 3, 4, 5]
    assert pages(api_client, "/api/projects?ordering=-name", 5) == [5, 4, 3, 2, 1]
