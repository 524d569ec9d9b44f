"""The live events stream (`/ws/events`): every committed change of system_events, and of the
tables of the kinds other apps register (`kinds`: scheduling's executions and tasks), in one order
a client can resume from. PostgreSQL's triggers log each statement's change in its transaction
(migration events 0004 and the kinds' own), `log` numbers the committed ones and reads them in
order, `hub` reads them once per process and offers them to the process's sockets,
`subscription` holds a socket's streams, filters, user and bounded buffer, and events.consumers
speaks the protocol (docs/api.md)."""
