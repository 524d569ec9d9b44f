"""The Content-Security-Policy of the admin, the API's HTML pages and its JSON: scripts only from
Brain's own files, or inline with the response's nonce; never `'unsafe-inline'` scripts."""

import re

import pytest
from django.test import Client
from drf_spectacular.settings import patched_settings

pytestmark = pytest.mark.django_db

REST_OF_THE_POLICY = [
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
]
WITHOUT_NONCE = ["default-src 'self'", "script-src 'self'", *REST_OF_THE_POLICY]
SCRIPT_TAG = re.compile(r"<script\b([^>]*)>", re.IGNORECASE)


@pytest.fixture
def operator(django_user_model):
    client = Client()
    client.force_login(django_user_model.objects.create_superuser("root", password="root-pw-123"))
    return client


def policy(response):
    return response["Content-Security-Policy"].split("; ")


def page_nonce(response):
    """The nonce of the page's policy, after checking the policy is the project's."""
    directives = policy(response)
    [nonce] = re.fullmatch(r"script-src 'self' 'nonce-([\w-]+)'", directives[1]).groups()
    assert directives == [
        "default-src 'self'",
        f"script-src 'self' 'nonce-{nonce}'",
        *REST_OF_THE_POLICY,
    ]
    return nonce


def inline_scripts(response):
    """The attributes of each script element with code in the page (no src, not a JSON block)."""
    return [
        attributes
        for attributes in SCRIPT_TAG.findall(response.content.decode())
        if "src=" not in attributes and 'type="application/json"' not in attributes
    ]


@pytest.mark.parametrize(
    "path",
    [
        "/admin/",
        "/admin/events/dashboard/",
        "/admin/events/systemevent/",
        "/admin/audit/auditlog/",
        "/admin/scheduling/scheduledtask/add/",
    ],
)
def test_admin_pages_run_no_script_without_the_nonce(operator, path):
    response = operator.get(path)

    assert response.status_code == 200
    nonce = page_nonce(response)
    assert f'nonce="{nonce}"' in response.content.decode()
    assert all(f'nonce="{nonce}"' in attributes for attributes in inline_scripts(response))


def test_the_admin_login_page_has_the_policy():
    response = Client().get("/admin/login/")

    assert response.status_code == 200
    page_nonce(response)
    assert inline_scripts(response) == []


def test_swagger_ui_loads_its_set_up_script_from_a_file():
    page = Client().get("/api/docs")
    script = Client().get("/api/docs?script=")

    assert page.status_code == 200
    assert policy(page) == WITHOUT_NONCE
    assert inline_scripts(page) == []
    assert '<script src="/api/docs?script="></script>' in page.content.decode()
    assert (script.status_code, script["Content-Type"]) == (200, "application/javascript")
    assert 'url: "/api/schema"' in script.content.decode()


def test_redoc_runs_no_inline_script():
    response = Client().get("/api/redoc")

    assert response.status_code == 200
    assert policy(response) == WITHOUT_NONCE
    assert inline_scripts(response) == []


def test_redocs_inline_set_up_script_carries_the_nonce():
    with patched_settings({"REDOC_UI_SETTINGS": {"hideDownloadButton": True}}):
        response = Client().get("/api/redoc")

    nonce = page_nonce(response)
    assert [attributes.strip() for attributes in inline_scripts(response)] == [f'nonce="{nonce}"']


def test_the_browsable_api_has_the_policy(operator):
    response = operator.get("/api/events", HTTP_ACCEPT="text/html")

    assert (response.status_code, response["Content-Type"]) == (200, "text/html; charset=utf-8")
    assert policy(response) == WITHOUT_NONCE
    assert inline_scripts(response) == []


def test_json_answers_have_the_policy_too(api_client):
    response = api_client.get("/api/events")

    assert response.status_code == 200
    assert policy(response) == WITHOUT_NONCE
