"""Tiny randomly initialised causal LMs with a real tokenizer, built locally (no hub).

Other test modules use these through two calls:

    build_tiny_causal_lm(path, arch="llama", chat_template=False) -> path
        a `save_pretrained` folder (model + PreTrainedTokenizerFast) that
        `AutoModelForCausalLM.from_pretrained(path)` and `AutoTokenizer.from_pretrained(path)` load;
    build_tiny_gguf(hf_dir, out_path) -> out_path
        the same Llama model written as an f32 GGUF file that llama.cpp and
        transformers' `gguf_file=` both load.

The tokenizer is a byte-level BPE trained on Python source from this interpreter's
standard library, so any text round-trips and Python code tokenizes sensibly.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path

EOS = "<|endoftext|>"
PAD = "<|pad|>"
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
SPECIAL_TOKENS = [EOS, PAD, IM_START, IM_END]
VOCAB_SIZE = 600
OUTPUT_SCALE = 12.0

# ChatML, as SmolLM2-Instruct uses; `add_generation_prompt` opens the assistant turn.
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def training_text() -> list[str]:
    """A few tens of KB of real Python: the sources of some standard-library modules."""
    import string
    import textwrap
    import keyword
    import bisect
    import heapq

    return [inspect.getsource(m) for m in (textwrap, string, keyword, bisect, heapq)]


def build_tokenizer(vocab_size: int = VOCAB_SIZE):
    """A byte-level BPE tokenizer (GPT-2 style) wrapped in PreTrainedTokenizerFast."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(training_text(), trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token=EOS, bos_token=EOS, pad_token=PAD, unk_token=None
    )


def _config(arch: str, vocab_size: int, eos_id: int, pad_id: int):
    import transformers

    common = dict(vocab_size=vocab_size, bos_token_id=eos_id, eos_token_id=eos_id, pad_token_id=pad_id)
    if arch == "llama":
        return transformers.LlamaConfig(
            hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, max_position_embeddings=1024, rms_norm_eps=1e-5,
            rope_theta=10000.0, tie_word_embeddings=False, **common,
        )
    if arch == "gpt2":
        return transformers.GPT2Config(n_embd=32, n_layer=2, n_head=4, n_positions=1024, tie_word_embeddings=False,
                                       **common)
    raise ValueError(f"unknown tiny arch {arch!r}: use 'llama' or 'gpt2'")


def build_tiny_causal_lm(path, arch: str = "llama", chat_template: bool = False, seed: int = 0) -> Path:
    """Save a tiny random causal LM (hidden 32, 2 layers) and its tokenizer to `path`; return it.

    With `chat_template=True` the tokenizer carries a ChatML template, so the model
    looks like an instruct model to code that checks `tokenizer.chat_template`.
    """
    import torch
    import transformers

    path = Path(path)
    tokenizer = build_tokenizer()
    if chat_template:
        tokenizer.chat_template = CHATML_TEMPLATE
    eos_id = tokenizer.convert_tokens_to_ids(EOS)
    pad_id = tokenizer.convert_tokens_to_ids(PAD)
    config = _config(arch, len(tokenizer), eos_id, pad_id)
    torch.manual_seed(seed)
    model = transformers.AutoModelForCausalLM.from_config(config)
    # Random init at std 0.02 gives near-uniform next-token distributions; a larger output
    # scale (untied from the input embeddings) makes temperature and top-p matter, as in a trained model.
    with torch.no_grad():
        model.get_output_embeddings().weight.mul_(OUTPUT_SCALE)
    model.generation_config.eos_token_id = eos_id
    model.generation_config.pad_token_id = pad_id
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def _permute_for_gguf(w, n_head: int):
    """HF Llama q/k rows use rotate-half RoPE; GGUF expects interleaved pairs (as llama.cpp's converter does)."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def build_tiny_gguf(hf_dir, out_path) -> Path:
    """Write the tiny Llama in `hf_dir` as an f32 GGUF (llama arch, GPT-2 byte-level BPE tokenizer)."""
    import gguf
    import numpy as np
    import transformers

    hf_dir, out_path = Path(hf_dir), Path(out_path)
    model = transformers.AutoModelForCausalLM.from_pretrained(hf_dir)
    tokenizer = transformers.AutoTokenizer.from_pretrained(hf_dir)
    cfg = model.config
    if cfg.model_type != "llama":
        raise ValueError(f"build_tiny_gguf writes llama models only, not {cfg.model_type!r}")

    w = gguf.GGUFWriter(str(out_path), "llama")
    w.add_name("tiny-llama")
    w.add_context_length(cfg.max_position_embeddings)
    w.add_embedding_length(cfg.hidden_size)
    w.add_block_count(cfg.num_hidden_layers)
    w.add_feed_forward_length(cfg.intermediate_size)
    w.add_head_count(cfg.num_attention_heads)
    w.add_head_count_kv(cfg.num_key_value_heads)
    w.add_rope_dimension_count(cfg.hidden_size // cfg.num_attention_heads)
    w.add_rope_freq_base(float(getattr(cfg, "rope_theta", None) or cfg.rope_parameters["rope_theta"]))
    w.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    w.add_vocab_size(cfg.vocab_size)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)

    vocab = tokenizer.get_vocab()
    tokens = [None] * len(vocab)
    for token, idx in vocab.items():
        tokens[idx] = token
    special = set(SPECIAL_TOKENS)
    types = [gguf.TokenType.CONTROL if t in special else gguf.TokenType.NORMAL for t in tokens]
    merges = json.loads(tokenizer.backend_tokenizer.to_str())["model"]["merges"]
    merges = [m if isinstance(m, str) else " ".join(m) for m in merges]
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("gpt-2")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(tokenizer.convert_tokens_to_ids(EOS))
    w.add_eos_token_id(tokenizer.convert_tokens_to_ids(EOS))
    w.add_pad_token_id(tokenizer.convert_tokens_to_ids(PAD))
    w.add_add_bos_token(False)
    if tokenizer.chat_template:
        w.add_chat_template(tokenizer.chat_template)

    names = {
        "input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
        "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output", "post_attention_layernorm": "ffn_norm",
        "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down",
    }
    state = {k: v.detach().float().numpy() for k, v in model.state_dict().items()}
    w.add_tensor("token_embd.weight", state["model.embed_tokens.weight"])
    for i in range(cfg.num_hidden_layers):
        for hf_name, gguf_name in names.items():
            t = state[f"model.layers.{i}.{hf_name}.weight"]
            if hf_name == "self_attn.q_proj":
                t = _permute_for_gguf(t, cfg.num_attention_heads)
            elif hf_name == "self_attn.k_proj":
                t = _permute_for_gguf(t, cfg.num_key_value_heads)
            w.add_tensor(f"blk.{i}.{gguf_name}.weight", np.ascontiguousarray(t, dtype=np.float32))
    w.add_tensor("output_norm.weight", state["model.norm.weight"])
    if not cfg.tie_word_embeddings:
        w.add_tensor("output.weight", state["lm_head.weight"])
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return out_path
