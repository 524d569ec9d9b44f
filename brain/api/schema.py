"""drf-spectacular: msgspec Structs as request schemas (StructExtension), the query parameters
an operation takes beyond its filters (AutoSchema), and postprocessing that makes the schema state
the write contract (brain.api.strict and brain.api.query) that the views enforce."""

import msgspec
from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.settings import api_settings

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


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's AutoSchema, documenting the query parameters an operation takes beyond
    its filters and pagination (brain.api.query): the fields of the view's
    `query_serializer_class`, and `format` with the formats of the view's renderers."""

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
