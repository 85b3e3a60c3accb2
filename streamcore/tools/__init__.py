"""Read-only operator tools over segment files: ``streamcore dump`` and ``streamcore verify``.

They read a log's .log/.index/.timeindex files directly, never through Log and
never under its lock, and change nothing.  ``segment_files`` holds what both
share; ``dump`` and ``verify`` hold one command each; ``streamcore.cli`` wires
them to the command line.
"""
