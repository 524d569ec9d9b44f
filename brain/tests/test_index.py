"""`/` says where to go: JSON for a client, a page of links for a browser."""

import re

import pytest

LINKS = {
    "api_docs": "/api/docs",
    "api_redoc": "/api/redoc",
    "api_schema": "/api/schema",
    "admin": "/admin/",
    "events_dashboard": "/admin/events/dashboard/",
    "health_live": "/health/live",
    "health_ready": "/health/ready",
    "health_scheduler": "/health/scheduler",
    "events_stream": "/ws/events",
}
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.mark.parametrize("accept", [None, "*/*", "application/json"])
def test_root_answers_json_links_to_a_client(client, accept):
    headers = {"accept": accept} if accept else {}

    response = client.get("/", headers=headers)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Vary"] == "Accept"
    assert response.json() == {"name": "Brain", "links": LINKS}


def test_root_answers_a_page_of_links_to_a_browser(client):
    response = client.get("/", headers={"accept": BROWSER})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    page = response.content.decode()
    assert re.findall(r'<a href="([^"]+)"', page) == [
        "/api/docs",
        "/api/redoc",
        "/api/schema",
        "/admin/",
        "/admin/events/dashboard/",
        "/health/live",
        "/health/ready",
        "/health/scheduler",
    ]
    assert "a WebSocket at <code>/ws/events</code>" in page
    assert "<script" not in page


def test_the_page_of_links_has_brains_icon(client):
    page = client.get("/", headers={"accept": BROWSER}).content.decode()

    (icon,) = re.findall(r'<link rel="icon" href="([^"]+)" type="image/svg\+xml">', page)
    response = client.get(icon)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"


@pytest.mark.django_db
def test_every_link_of_the_root_answers(client, admin_client):
    for name, path in LINKS.items():
        if name == "events_stream":  # a WebSocket: events/tests/test_stream.py
            continue
        response = (admin_client if name.startswith(("admin", "events")) else client).get(path)
        # No scheduler runs in this test: /health/scheduler says so.
        expected = 503 if name == "health_scheduler" else 200
        assert response.status_code == expected, (name, response.status_code)


def test_root_is_read_only(client):
    response = client.post("/")

    assert response.status_code == 405
