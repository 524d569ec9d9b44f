import re

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_schema_validates_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yaml"))

    assert (tmp_path / "s.yaml").read_text().startswith("openapi: 3")


@pytest.mark.parametrize("path", ["/api/schema", "/api/docs", "/api/redoc"])
def test_schema_and_docs_are_public(anon_client, path):
    assert anon_client.get(path).status_code == 200


@pytest.mark.parametrize("path", ["/api/docs", "/api/redoc"])
def test_docs_reference_no_external_host(anon_client, path):
    html = anon_client.get(path).content.decode()

    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
    assert urls, "the page loads its assets"
    assert all(not re.match(r"^(https?:)?//", url) for url in urls), urls
    assert "cdn" not in html.lower()


def test_redoc_page_forbids_images_from_other_hosts(anon_client):
    # The bundle's sidebar shows a logo from a CDN; the policy keeps the browser from asking.
    response = anon_client.get("/api/redoc")

    assert "img-src 'self' data:;" in response["Content-Security-Policy"]


def test_view_site_opens_the_api_reference(admin_client):
    html = admin_client.get("/admin/").content.decode()

    assert '<a href="/api/docs">View site</a>' in html


@pytest.fixture
def schema(anon_client):
    return anon_client.get("/api/schema?format=json").json()


def operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in {"get", "put", "patch", "post", "delete"}:
                yield method.upper(), path, operation


def test_token_operation_takes_no_credentials(schema):
    operation = schema["paths"]["/api/auth/token"]["post"]

    assert operation.get("security", [{}]) == [{}]
    assert "security" not in schema


def test_every_other_operation_takes_the_token_scheme(schema):
    scheme = schema["components"]["securitySchemes"]["tokenAuth"]

    assert {key: scheme[key] for key in ("type", "in", "name")} == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
    }
    assert "Token <key>" in scheme["description"]
    others = [
        (method, path, operation.get("security"))
        for method, path, operation in operations(schema)
        if (method, path) != ("POST", "/api/auth/token")
    ]
    assert others
    assert [entry for entry in others if {"tokenAuth": []} not in (entry[2] or [])] == []


def test_every_id_path_parameter_is_an_integer(schema):
    ids = [
        (method, path, parameter["schema"])
        for method, path, operation in operations(schema)
        for parameter in operation.get("parameters", [])
        if parameter["in"] == "path" and parameter["name"] == "id"
    ]

    assert ("GET", "/api/events/{id}", {"type": "integer"}) in ids
    assert ("POST", "/api/tasks/{id}/run", {"type": "integer"}) in ids
    assert [entry for entry in ids if entry[2] != {"type": "integer"}] == []


def test_response_components_require_every_field_they_return(schema):
    components = schema["components"]["schemas"]

    assert components["Agent"]["required"] == sorted(components["Agent"]["properties"])
    assert "status" in components["Agent"]["required"]
    assert "description" in components["Project"]["required"]
    assert {"next", "previous", "results"} <= set(components["PaginatedProjectList"]["required"])


def test_request_components_leave_optional_fields_optional(schema):
    components = schema["components"]["schemas"]

    assert "status" not in components["AgentRequest"].get("required", [])
    assert "description" not in components["ProjectRequest"].get("required", [])
    assert "required" not in components["PatchedProjectRequest"]


def test_every_operation_declares_every_error_it_can_answer(schema):
    missing = []
    for method, path, operation in operations(schema):
        expected = {"400", "401", "403", "406", "411", "413", "429", "503"}
        if "{" in path:
            expected.add("404")
        if method in {"POST", "PUT", "PATCH"}:
            expected.add("415")
        if not expected <= set(operation["responses"]):
            missing.append((method, path, sorted(expected - set(operation["responses"]))))

    assert missing == []
    conflicts = {
        (method, path)
        for method, path, operation in operations(schema)
        if "409" in operation["responses"]
    }
    assert conflicts == {
        ("DELETE", "/api/projects/{id}"),
        ("POST", "/api/tasks/{id}/run"),
        ("POST", "/api/tasks/{id}/enable"),
        ("POST", "/api/executions/{id}/complete"),
    }


def test_errors_have_one_shape_a_400_field_messages_too(schema):
    error, field_errors = "#/components/schemas/Error", "#/components/schemas/FieldErrors"
    bodies = {
        (status, str(response["content"]["application/json"]["schema"]))
        for _, _, operation in operations(schema)
        for status, response in operation["responses"].items()
        if int(status) >= 400
    }

    assert {body for status, body in bodies if status == "400"} == {
        str({"oneOf": [{"$ref": field_errors}, {"$ref": error}]})
    }
    assert {body for status, body in bodies if status != "400"} == {str({"$ref": error})}
    assert schema["components"]["schemas"]["Error"]["required"] == ["detail"]


def test_bulk_declares_its_ndjson_body(schema):
    content = schema["paths"]["/api/events/bulk"]["post"]["requestBody"]["content"]

    assert set(content) == {"application/json", "application/x-ndjson"}
    ndjson = content["application/x-ndjson"]["schema"]
    assert (ndjson["type"], ndjson["format"]) == ("string", "binary")
    assert "SystemEventCreateRequest" in ndjson["description"]


def test_the_schema_is_the_same_every_time_it_is_served(anon_client):
    first = anon_client.get("/api/schema?format=json").json()

    assert anon_client.get("/api/schema?format=json").json() == first
    update = first["paths"]["/api/events/{id}"]
    assert update["put"]["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/SystemEventUpdateRequest"
    }
    assert update["patch"]["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PatchedSystemEventUpdateRequest"
    }


@pytest.mark.parametrize(
    ("query", "errors"),
    [
        ("format=json&lang=de", {"lang": ["Unknown query parameter. Known: format."]}),
        ("format=json&version=x", {"version": ["Unknown query parameter. Known: format."]}),
        (
            "format=yaml&format=json",
            {"format": ["This parameter takes one value; it was given 2 times."]},
        ),
    ],
)
def test_the_schema_refuses_a_query_parameter_it_does_not_take(anon_client, query, errors):
    response = anon_client.get(f"/api/schema?{query}")

    assert (response.status_code, response.json()) == (400, errors)
