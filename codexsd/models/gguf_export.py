"""Write a trained Llama-family model folder as a GGUF file that llama.cpp (the `gguf:` backend) loads.

The use: S and D trained from the bundled SmolLM2 GGUF are ordinary transformers folders, and
sampling them with transformers on a CPU is several times slower than with llama.cpp. llama.cpp's
own `convert_hf_to_gguf.py` is not on PyPI; this writer covers the case codexsd produces itself:
the architecture `llama` (SmolLM2, Llama, TinyLlama...) with the tokenizer of a *template* GGUF,
the file the model was trained from. Every metadata field of the template (hyper-parameters,
tokenizer, chat template) is copied; hyper-parameters are checked against the model's config;
the weights are the model's, renamed to llama.cpp's tensor names, with q/k rows permuted the way
llama.cpp expects (the inverse of what transformers does when it reads a GGUF), and stored as
Q8_0 (default), F16 or F32.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

from codexsd.core.imports import require

log = logging.getLogger(__name__)

TYPES = ("q8_0", "f16", "f32")
FILE_TYPES = {"f32": 0, "f16": 1, "q8_0": 7}  # llama.cpp's LLAMA_FTYPE_ALL_F32 / MOSTLY_F16 / MOSTLY_Q8_0

LAYER_NAMES = {
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.o_proj.weight": "attn_output.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
    "input_layernorm.weight": "attn_norm.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight",
}
TOP_NAMES = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight",
             "lm_head.weight": "output.weight"}
LAYER_RE = re.compile(r"model\.layers\.(\d+)\.(.+)")
# config.json key -> the template's llama.* key; each must agree
CHECKED = {"num_hidden_layers": "block_count", "hidden_size": "embedding_length",
           "intermediate_size": "feed_forward_length", "num_attention_heads": "attention.head_count",
           "num_key_value_heads": "attention.head_count_kv", "vocab_size": "vocab_size"}


class GGUFExportError(ValueError):
    """The model cannot be written with this template (other architecture, other shapes)."""


def gguf_tensor_name(hf_name: str) -> str | None:
    """llama.cpp's name for a transformers Llama parameter; None for ones llama.cpp does not store
    (rotary caches)."""
    if hf_name in TOP_NAMES:
        return TOP_NAMES[hf_name]
    m = LAYER_RE.fullmatch(hf_name)
    if m and m.group(2) in LAYER_NAMES:
        return f"blk.{m.group(1)}.{LAYER_NAMES[m.group(2)]}"
    if hf_name.endswith("rotary_emb.inv_freq"):
        return None
    raise GGUFExportError(f"no llama.cpp name for parameter {hf_name!r} (only the llama architecture is supported)")


def permute_for_gguf(weights, n_head: int):
    """Rows of q_proj/k_proj in llama.cpp's rotary layout: per head, the two halves interleaved."""
    rows = weights.shape[0]
    return weights.reshape(n_head, 2, rows // n_head // 2, *weights.shape[1:]).swapaxes(1, 2).reshape(weights.shape)


def template_for(model_dir: Path, template: str | Path | None) -> Path:
    """The template GGUF: the one given, else the GGUF this model was trained from (codexsd_training.json),
    else the bundled SmolLM2."""
    if template:
        path = Path(template)
        if not path.is_file():
            raise FileNotFoundError(f"template GGUF not found: {path}")
        return path
    from codexsd.training.base_model import bundled_gguf, resolve_spec

    record = model_dir / "codexsd_training.json"
    if record.is_file():
        spec = str(json.loads(record.read_text()).get("config", {}).get("model", ""))
        location, gguf_file = resolve_spec(spec) if spec else (None, None)
        if gguf_file:
            return Path(location) / gguf_file
    return bundled_gguf()


def _check_config(config: dict, fields: dict) -> None:
    arch = fields.get("general.architecture")
    if arch != "llama" or config.get("model_type") not in ("llama", None):
        raise GGUFExportError(f"only the llama architecture is supported (template: {arch}, model: {config.get('model_type')})")
    for key, gguf_key in CHECKED.items():
        want = fields.get(f"llama.{gguf_key}")
        have = config.get(key)
        if want is not None and have is not None and int(want) != int(have):
            raise GGUFExportError(f"the model's {key}={have} differs from the template's llama.{gguf_key}={want}: "
                                  f"give the GGUF this model was trained from with --template")


def _field_value(field):
    """(value, type, element type) of a template field, as GGUFWriter.add_key_value takes them."""
    gguf = require("gguf")
    vtype = field.types[0]
    sub = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
    return field.contents(), vtype, sub


def export_gguf(model_dir: str | Path, output: str | Path, template: str | Path | None = None,
                out_type: str = "q8_0") -> Path:
    """Write `model_dir` (a transformers Llama folder) as the GGUF file `output`; returns its path."""
    gguf = require("gguf")
    torch = require("torch")
    transformers = require("transformers")
    np = require("numpy")
    if out_type not in TYPES:
        raise ValueError(f"unknown GGUF tensor type {out_type!r}; one of {', '.join(TYPES)}")
    model_dir, output = Path(model_dir), Path(output)
    config = json.loads((model_dir / "config.json").read_text())
    tpl_path = template_for(model_dir, template)
    reader = gguf.GGUFReader(str(tpl_path))
    fields = {}
    for name, field in reader.fields.items():
        if not name.startswith("GGUF."):
            fields[name] = field
    plain = {k: f.contents() for k, f in fields.items() if f.types and f.types[0] != gguf.GGUFValueType.ARRAY}
    _check_config(config, plain)
    log.info("exporting %s as %s with the metadata of %s", model_dir, out_type, tpl_path)

    # A model trained by codexsd completes raw text and has no chat template (TrainConfig.drop_chat_template):
    # the GGUF must not carry the template's either, or llama.cpp backends would chat-wrap its prompts.
    chat_template = getattr(transformers.AutoTokenizer.from_pretrained(str(model_dir)), "chat_template", None)
    model = transformers.AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32)
    state = model.state_dict()
    tied = bool(getattr(model.config, "tie_word_embeddings", False))
    n_head, n_kv = int(config["num_attention_heads"]), int(config.get("num_key_value_heads") or config["num_attention_heads"])
    qtype = {"q8_0": gguf.GGMLQuantizationType.Q8_0, "f16": gguf.GGMLQuantizationType.F16,
             "f32": gguf.GGMLQuantizationType.F32}[out_type]

    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".tmp")
    writer = gguf.GGUFWriter(str(tmp), arch="llama")
    for name, field in fields.items():
        if name in ("general.architecture", "general.file_type", "general.quantization_version"):
            continue  # the writer adds the architecture; the file type is ours
        if name == "tokenizer.chat_template":
            continue  # the model's own, below
        value, vtype, sub = _field_value(field)
        writer.add_key_value(name, value, vtype, sub_type=sub)
    if chat_template:
        writer.add_chat_template(chat_template)
    writer.add_file_type(FILE_TYPES[out_type])
    if out_type == "q8_0":
        writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
    written = 0
    for hf_name, tensor in state.items():
        name = gguf_tensor_name(hf_name)
        if name is None or (name == "output.weight" and tied):
            continue
        data = tensor.detach().to(torch.float32).numpy()
        if name.endswith("attn_q.weight"):
            data = permute_for_gguf(data, n_head)
        elif name.endswith("attn_k.weight"):
            data = permute_for_gguf(data, n_kv)
        # 1-D tensors (norms) stay F32, as llama.cpp's converter keeps them; so does any row not a multiple of 32
        if data.ndim == 1 or qtype == gguf.GGMLQuantizationType.F32 or data.shape[-1] % 32:
            writer.add_tensor(name, np.ascontiguousarray(data, dtype=np.float32))
        elif qtype == gguf.GGMLQuantizationType.F16:
            writer.add_tensor(name, np.ascontiguousarray(data, dtype=np.float16))
        else:
            packed = gguf.quants.quantize(np.ascontiguousarray(data, dtype=np.float32), qtype)
            writer.add_tensor(name, packed, raw_shape=packed.shape, raw_dtype=qtype)
        written += 1
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    tmp.replace(output)
    log.info("wrote %s: %d tensors", output, written)
    return output
