"""Every list's pages across the apps: an ordering made total (brain.api.filters.OrderingFilter),
so pages neither overlap nor skip; bad pagination and ordering are 400s naming the field; a limit
above the maximum is capped."""

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


@pytest.mark.parametrize(
    ("query", "errors"),
    [
        ("limit=abc", {"limit": ["A valid integer is required."]}),
        ("limit=1_0", {"limit": ["A valid integer is required."]}),
        ("limit=%D9%A1", {"limit": ["A valid integer is required."]}),
        ("limit=0", {"limit": ["Ensure this value is greater than or equal to 1."]}),
        ("limit=-1", {"limit": ["Ensure this value is greater than or equal to 1."]}),
        ("offset=x", {"offset": ["A valid integer is required."]}),
        ("offset=-5", {"offset": ["Ensure this value is greater than or equal to 0."]}),
        (
            "ordering=bogus",
            {
                "ordering": [
                    "Cannot order by 'bogus': use timestamp, severity, event_type, id, "
                    "with '-' before one for descending order."
                ]
            },
        ),
        (
            "ordering=-timestamp,message",
            {
                "ordering": [
                    "Cannot order by 'message': use timestamp, severity, event_type, id, "
                    "with '-' before one for descending order."
                ]
            },
        ),
    ],
)
@pytest.mark.parametrize("path", ["/api/events", "/api/events/type/deploy"])
def test_bad_pagination_and_ordering_are_field_errors(api_client, path, query, errors):
    SystemEventFactory(event_type="deploy")

    response = api_client.get(f"{path}?{query}")

    assert (response.status_code, response.json()) == (400, errors)


@pytest.mark.parametrize("path", ["/api/projects", "/api/audit"])
def test_every_list_refuses_a_bad_limit(staff_client, path):
    response = staff_client.get(f"{path}?limit=ten")

    assert (response.status_code, response.json()) == (
        400,
        {"limit": ["A valid integer is required."]},
    )


def test_a_limit_above_the_maximum_is_capped(api_client):
    SystemEventFactory.create_batch(2)

    capped = api_client.get("/api/events?limit=5000&offset=1").json()

    assert len(capped["results"]) == 1
    assert capped["previous"] == "http://testserver/api/events?limit=1000"
