"""Small utilities shared by every layer (no radar, sim or model knowledge)."""

from mmsight.utils.atomic import atomic_file, atomic_write_bytes, atomic_write_text

__all__ = ["atomic_file", "atomic_write_bytes", "atomic_write_text"]
