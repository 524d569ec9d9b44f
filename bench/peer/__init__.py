"""The events API as the DRF and django-auditlog documentation show it, over Brain's
`system_events` table: the peer `make bench` measures Brain against (docs/benchmarks.md)."""
