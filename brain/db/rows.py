"""Row locks for writes that read a row before they change or delete it."""


def lock_row(instance, *, no_key=False):
    """Locks `instance`'s row until the transaction ends (FOR NO KEY UPDATE when `no_key`, enough
    for an update that keeps the primary key; FOR UPDATE for a delete) and reloads its values,
    so the write that follows starts from what is committed and the audit records the values it
    replaces. Raises the model's DoesNotExist when a concurrent transaction deleted the row: the
    API answers it with a 404."""
    queryset = type(instance)._base_manager.select_for_update(no_key=no_key, of=("self",))
    instance.refresh_from_db(from_queryset=queryset)
    return instance
