"""Every real write path leaves exactly one audit record per changed row, naming who (the user's
pk, or `system:<command>`), from where (REMOTE_ADDR, User-Agent), in which request (the id Brain
sent back as X-Request-ID, never the client's own) and what changed; reads, refused writes and
saves that change nothing leave none.

One module per path: the events and scheduling APIs (bulk endpoint and task actions included), the
admin, the management commands and the scheduler. The ORM and QuerySet bulk paths are proven in
audit/tests."""
