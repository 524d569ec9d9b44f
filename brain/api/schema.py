"""drf-spectacular: msgspec Structs as request schemas (StructExtension), the token scheme
(TokenSchemeExtension), the query parameters an operation takes beyond its filters and the type of
an `{id}` (AutoSchema), and postprocessing that makes the schema state the write contract
(brain.api.strict and brain.api.query) that the views enforce and the fields every response
has."""

import msgspec
from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiSerializerExtension
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.settings import api_settings

from brain.api.lookups import IdLookupMixin

COMPONENTS = "#/components/schemas/{name}"


def _openapi_3_0(schema):
    """`schema` (JSON Schema, as msgspec writes it) in OpenAPI 3.0's dialect: a union with null
    becomes the other member, `nullable`; an enum of strings says its type, as DRF's choices
    do."""
    if isinstance(schema, list):
        return [_openapi_3_0(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    schema = {key: _openapi_3_0(value) for key, value in schema.items()}
    if "enum" in schema and all(isinstance(value, str) for value in schema["enum"]):
        schema.setdefault("type", "string")
    members = schema.get("anyOf", [])
    others = [member for member in members if member != {"type": "null"}]
    if len(others) == 1 and len(members) == 2:
        del schema["anyOf"]
        schema = {**others[0], **schema, "nullable": True}
    return schema


class StructExtension(OpenApiSerializerExtension):
    """A msgspec Struct given as an operation's request (`extend_schema(request=Struct)`) is
    described by its own JSON schema (msgspec.json.schema_components), as a component named
    after the Struct: the schema is the declaration the view validates with."""

    target_class = msgspec.Struct
    match_subclasses = True

    def get_name(self, auto_schema, direction):
        # drf-spectacular marks a PATCH body `partial` to name it "Patched...", by setting the
        # attribute on what it was given: on a Struct, a class, the mark would outlive the
        # operation and rename the other operations' bodies in every later schema. It is set
        # here for the operation at hand.
        self.target.partial = auto_schema.method == "PATCH"
        return self.target.__name__

    def map_serializer(self, auto_schema, direction):
        _, components = msgspec.json.schema_components([self.target], ref_template=COMPONENTS)
        schema = components.pop(self.target.__name__)
        for name, component in components.items():
            auto_schema.registry.register_on_missing(
                ResolvedComponent(
                    name=name,
                    type=ResolvedComponent.SCHEMA,
                    object=name,
                    schema=_openapi_3_0(component),
                )
            )
        schema.pop("title", None)
        return _openapi_3_0(schema)


class TokenSchemeExtension(OpenApiAuthenticationExtension):
    """Brain's token authentication (brain.api.authentication) as the security scheme
    `tokenAuth`: an API key in the Authorization header, sent as `Token <key>`."""

    target_class = "brain.api.authentication.CachedTokenAuthentication"
    match_subclasses = True
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <key>`: the word Token, a space, then the API token.",
        }


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's AutoSchema, documenting the query parameters an operation takes beyond
    its filters and pagination (brain.api.query): the fields of the view's
    `query_serializer_class`, and `format` with the formats of the view's renderers. The `{id}` of
    a viewset with integer ids (brain.api.lookups) is an integer, as on every other route."""

    def get_override_parameters(self):
        parameters = []
        query_serializer_class = getattr(self.view, "query_serializer_class", None)
        if query_serializer_class is not None:
            parameters.append(query_serializer_class)
        name = api_settings.URL_FORMAT_OVERRIDE
        if name:
            # The renderers drf-spectacular documents: the browsable API (`api`), HTML for people
            # in a browser, is left out of the schema as its media type is.
            parameters.append(
                OpenApiParameter(
                    name,
                    OpenApiTypes.STR,
                    enum=self.map_renderers("format"),
                    description="The response's format, instead of the Accept header's.",
                )
            )
        if isinstance(self.view, IdLookupMixin) and "{id}" in self.path:
            parameters.append(OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH))
        # Parameters an operation declares with @extend_schema come after, and win.
        return [*parameters, *super().get_override_parameters()]


def _referenced(schema):
    """The component names a request body's schema refers to (itself or as array items)."""
    if "$ref" in schema:
        yield schema["$ref"].rsplit("/", 1)[-1]
    if isinstance(schema.get("items"), dict):
        yield from _referenced(schema["items"])


def _non_empty(schema):
    if schema.get("type") == "string" and "enum" not in schema:
        schema.setdefault("minLength", 1)
    if isinstance(schema.get("items"), dict):
        _non_empty(schema["items"])


def state_the_write_contract(result, generator, request, public):
    """Request bodies take no property beyond their schema's (additionalProperties: false), and
    a query parameter's text value may not be empty (minLength: 1)."""
    components = result.get("components", {}).get("schemas", {})
    for path in result.get("paths", {}).values():
        for operation in path.values():
            if not isinstance(operation, dict):
                continue
            for content in operation.get("requestBody", {}).get("content", {}).values():
                for name in _referenced(content.get("schema", {})):
                    if components.get(name, {}).get("type") == "object":
                        components[name]["additionalProperties"] = False
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "query" and "schema" in parameter:
                    _non_empty(parameter["schema"])
    return result


def _response_components(schema, components, seen):
    """Adds to `seen` the names of the components `schema` refers to, through properties, items
    and compositions, and of those they refer to."""
    if isinstance(schema, list):
        for item in schema:
            _response_components(item, components, seen)
        return
    if not isinstance(schema, dict):
        return
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name not in seen:
            seen.add(name)
            _response_components(components.get(name, {}), components, seen)
    for key in ("properties", "items", "allOf", "oneOf", "anyOf", "additionalProperties"):
        value = schema.get(key)
        if key == "properties" and isinstance(value, dict):
            _response_components(list(value.values()), components, seen)
        else:
            _response_components(value, components, seen)


def state_the_response_fields(result, generator, request, public):
    """Every property of an object a response returns is required: a serializer writes each of
    its readable fields on every response (null where the schema says nullable), so a generated
    client need not treat any as optional."""
    components = result.get("components", {}).get("schemas", {})
    seen = set()
    for path in result.get("paths", {}).values():
        for operation in path.values():
            if not isinstance(operation, dict):
                continue
            for response in operation.get("responses", {}).values():
                for content in response.get("content", {}).values():
                    _response_components(content.get("schema", {}), components, seen)
    for name in seen:
        component = components.get(name, {})
        if component.get("type") == "object" and component.get("properties"):
            component["required"] = sorted(component["properties"])
    return result
