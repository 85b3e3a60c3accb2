"""What a new user sees: help(streamcore.Log) explains every constructor option and
inspect.signature(streamcore.Log) works and matches the stub."""

from __future__ import annotations

import inspect
import pydoc

import streamcore

OPTIONS = (
    "segment_bytes",
    "index_interval_bytes",
    "flush",
    "flush_interval_ms",
    "retention_bytes",
    "retention_ms",
    "max_batch_bytes",
    "segment_ms",
    "max_index_bytes",
)


def test_signature_of_log():
    sig = inspect.signature(streamcore.Log)
    params = sig.parameters
    assert list(params)[0] == "path"
    assert params["path"].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    for name in OPTIONS:
        assert params[name].kind is inspect.Parameter.KEYWORD_ONLY, name
    assert params["flush"].default == "never"
    assert params["segment_bytes"].default == 1 << 30
    assert params["retention_ms"].default is None
    # the defaults are the ones Log() really uses
    assert params["max_batch_bytes"].default == 1 << 20


def test_help_explains_every_option():
    text = pydoc.render_doc(streamcore.Log, renderer=pydoc.plaintext)
    for name in OPTIONS:
        # each option is explained on its own line: "name: what it does"
        assert f"{name}: " in text, name
    for word in ("page cache", "fdatasync", "Kafka's segment.bytes", "StorageError (EAGAIN)"):
        assert word in text, word


def test_defaults_in_the_signature_are_the_log_defaults(tmp_path):
    sig = inspect.signature(streamcore.Log)
    with streamcore.Log(tmp_path / "log") as log:
        assert log.max_batch_bytes == sig.parameters["max_batch_bytes"].default
