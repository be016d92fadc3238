"""Spans out of and into stores: backups, bug reports and moving to another engine.

``scan`` reads every span of a time range through the ``SpanReader`` contract (any engine),
``lines`` is the OTLP JSON lines file format, ``send`` hands batches to a running server's
OTLP endpoint, ``migrate`` copies one store into another with a checkpoint. The commands are
``cli/portability.py`` (export, import) and ``cli/migrate.py``; the server's streaming
export is ``api/export.py``.
"""
