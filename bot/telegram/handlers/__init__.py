"""Command handlers, one module per command group; each module has ``register(application)``.

Handlers are thin: parse the arguments, call a service (store, report, engine status), render a
template, reply. They never fetch or recompute (``/refresh`` is the admin's explicit exception).
"""
