"""The CI-tracing collector: problems from the calls a project's own test suite makes."""

from curation.ci.collect import DEFAULT_SOURCE, collect_ci, trace_source
from curation.ci.config import CIConfig
from curation.ci.project import ProjectError
from curation.ci.stdlib import StdlibTestsMissing

__all__ = ["CIConfig", "DEFAULT_SOURCE", "ProjectError", "StdlibTestsMissing", "collect_ci", "trace_source"]
