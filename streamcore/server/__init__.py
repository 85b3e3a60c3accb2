"""The reference server: one process, one listener per protocol face.

``streamcore serve`` (``serve.py``) opens the data directory, starts the
listener of every face present in this package (``kafka/``, ``sqs/``) that is
enabled, prints one ready line per listener and closes them all on SIGINT or
SIGTERM.  Each face is a thin adapter: decode, call the service, encode.
"""
