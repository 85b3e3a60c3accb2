"""The Kafka wire-protocol face of ``streamcore serve``.

``schema.py`` + ``messages*.py`` restate Kafka's message schemas,
``codec.py`` encodes and decodes them (no I/O), ``apis.py`` is the table of
advertised API versions and the framing, ``connection.py`` serves one client
connection, ``handlers/`` answers each API from a ``LogBroker``, and
``listener.py`` is the face's entry point for ``serve.py``.
"""
