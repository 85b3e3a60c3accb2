"""The reference server: ``streamcore serve`` (see ``serve``), one listener per protocol."""
