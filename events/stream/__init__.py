"""The live events stream (`/ws/events`): every committed change of system_events, in an order a
client can resume from. PostgreSQL's triggers log each statement's change in its transaction
(migration events 0004), `log` numbers the committed ones and reads them in order, `hub` reads
them once per process and offers them to the process's sockets, `subscription` holds a socket's
filters and bounded buffer, and events.consumers speaks the protocol (docs/api.md)."""
