"""The errors of every operation in the OpenAPI schema: each status an operation can answer, with
its body. Errors keep DRF's two shapes: `{"detail": "..."}` (Error) for every status, and for a
400 of bad input the field messages (FieldErrors) instead. A view declares only the statuses of
its own (a 409, with its description); this hook adds the rest and gives every one its body."""

ERROR = "#/components/schemas/Error"
FIELD_ERRORS = "#/components/schemas/FieldErrors"

COMPONENTS = {
    "Error": {
        "type": "object",
        "description": "An error that is not about one field: what went wrong, in a sentence.",
        "properties": {"detail": {"type": "string"}},
        "required": ["detail"],
    },
    "FieldErrors": {
        "type": "object",
        "description": (
            "Bad input, by field: each key is a field (or query parameter) with its messages; "
            "`non_field_errors` holds those about the body as a whole. A field holding an object "
            "or a list, and a bulk body, nest the same shape: by key, by item index (`0`) or by "
            'NDJSON line (`line 3`), as in `{"0": {"severity": ["..."]}}`.'
        ),
        "minProperties": 1,
        "additionalProperties": {
            "oneOf": [
                {"type": "array", "items": {"type": "string"}},
                {"$ref": FIELD_ERRORS},
            ]
        },
    },
}

RETRY_AFTER = {
    "Retry-After": {
        "schema": {"type": "integer"},
        "description": "Seconds to wait before trying again.",
    }
}

DESCRIPTIONS = {
    "400": "Bad input: field messages (FieldErrors) for a body or query parameter the operation "
    "refuses; a body that is not JSON, or a bad Content-Length, is an Error.",
    "401": "No credentials, or credentials that are not valid (a token that does not exist or "
    "has expired).",
    "403": "The credentials may not do this: a token's scope, an action that needs staff, a task "
    "whose owner may not use its skill, or a session's write without its CSRF token.",
    "404": 'No such row, or one the user may not see: `{"detail": "Not found."}`.',
    "406": "The Accept header names no media type the operation answers in.",
    "411": "A body sent without Content-Length (chunked transfer encoding).",
    "413": "A body larger than its limit.",
    "415": "A body in a media type the operation does not take.",
    "429": "Throttled: too many requests (or failed logins, or heavy requests in flight); try "
    "again after Retry-After seconds.",
    "503": "PostgreSQL is unreachable or gave up on the request; try again after Retry-After "
    "seconds.",
}


def _statuses(path, method):
    """The error statuses any operation at `path` answering `method` can answer."""
    statuses = ["400", "401", "403", "406", "411", "413", "429", "503"]
    if "{" in path:  # a path parameter that names no row
        statuses.append("404")
    if method in ("post", "put", "patch"):  # the view reads a body
        statuses.append("415")
    return statuses


def _body(status):
    if status == "400":
        schema = {"oneOf": [{"$ref": FIELD_ERRORS}, {"$ref": ERROR}]}
    else:
        schema = {"$ref": ERROR}
    return {"application/json": {"schema": schema}}


def state_the_errors(result, generator, request, public):
    """Every operation declares every error status it can answer: 400, 401, 403, 406, 411, 413,
    429 and 503 on all; 404 where the path names a row; 415 where a body is read (POST, PUT,
    PATCH); the statuses its view declares (409). Each has the Error body, a 400 FieldErrors or
    Error, 429 and 503 a Retry-After header. 405 is not an operation's answer: the schema lists
    the methods of each path, and any other is a 405 Error."""
    result.setdefault("components", {}).setdefault("schemas", {}).update(COMPONENTS)
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            for status in _statuses(path, method):
                responses.setdefault(status, {"description": DESCRIPTIONS[status]})
            for status, response in responses.items():
                if int(status) < 400:
                    continue
                response["content"] = _body(status)
                if status in ("429", "503"):
                    response["headers"] = RETRY_AFTER
            operation["responses"] = dict(sorted(responses.items()))
    return result
