"""drf-spectacular postprocessing: the schema states the write contract (brain.api.strict and
brain.api.query) that the views enforce."""


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
