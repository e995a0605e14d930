"""Training formats: one registry of variants (standard = Codex-S, docstring_last = Codex-D) and their writers."""

from formats import docstring_last as _docstring_last  # noqa: F401  (registers "docstring_last")
from formats import standard as _standard  # noqa: F401  (registers "standard")
from formats.base import FORMATS, ROW_FIELDS, Format, get_format, register_format
from formats.docstring_last import extract_docstring
from formats.split import SPLITS, assign_splits
from formats.stage import FormatConfig, format_problems, format_stage

__all__ = [
    "FORMATS", "ROW_FIELDS", "SPLITS", "Format", "FormatConfig", "assign_splits", "extract_docstring",
    "format_problems", "format_stage", "get_format", "register_format",
]
