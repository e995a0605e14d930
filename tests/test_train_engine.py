"""The SFT engine's data path: prompt masking, left padding, packing, reading training data."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from codexsd.training.data import load_split, render  # noqa: E402
from codexsd.training.engine import (  # noqa: E402
    IGNORE_INDEX,
    LeftPadCollator,
    PackedCollator,
    pack_examples,
    padding_waste,
    tokenize_pairs,
)
from tiny_models import build_tiny_causal_lm  # noqa: E402

PAIRS = [
    ('def add(a, b):\n    """Add two numbers."""\n', "    return a + b\n"),
    ('def is_even(n):\n    """True when n is even."""\n', "    return n % 2 == 0\n"),
    ('import math\n\ndef area(r):\n    """Area of a circle of radius r."""\n', "    return math.pi * r ** 2\n"),
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    path = build_tiny_causal_lm(tmp_path_factory.mktemp("tiny") / "lm")
    model = transformers.AutoModelForCausalLM.from_pretrained(path).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(path)
    return model, tokenizer


def test_labels_are_exactly_the_target_tokens_plus_eos(tiny):
    _, tok = tiny
    examples, stats = tokenize_pairs(tok, PAIRS, max_length=512)
    assert stats.kept == len(PAIRS)
    for (prompt, target), ex in zip(PAIRS, examples):
        p_ids = tok(prompt)["input_ids"]
        t_ids = tok(target, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
        assert ex.input_ids == p_ids + t_ids
        assert ex.labels[: len(p_ids)] == [IGNORE_INDEX] * len(p_ids)
        assert [x for x in ex.labels if x != IGNORE_INDEX] == t_ids
        assert tok.decode(ex.input_ids[len(p_ids):-1]) == target


def test_too_long_and_empty_examples_are_counted_not_kept(tiny):
    _, tok = tiny
    pairs = PAIRS + [("def f():\n", "    " + "x = 1\n    " * 200), ("def g():\n", "")]
    examples, stats = tokenize_pairs(tok, pairs, max_length=64)
    assert len(examples) == stats.kept == 3
    assert stats.dropped_too_long == 1 and stats.dropped_empty_target == 1
    assert stats.kept + stats.dropped_too_long + stats.dropped_empty_target == len(pairs)


def _loss_per_example(model, input_ids, labels):
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([input_ids])).logits[0]
    return torch.nn.functional.cross_entropy(logits[:-1], torch.tensor(labels[1:]), ignore_index=IGNORE_INDEX,
                                             reduction="sum")


def test_left_padding_changes_nothing_for_the_model(tiny):
    model, tok = tiny
    examples, _ = tokenize_pairs(tok, PAIRS, max_length=512)
    collator = LeftPadCollator(tok.pad_token_id)
    batch = collator([{"input_ids": e.input_ids, "labels": e.labels} for e in examples])
    width = max(len(e.input_ids) for e in examples)
    assert batch["input_ids"].shape == (3, width)
    for row, ex in enumerate(examples):
        pad = width - len(ex.input_ids)
        assert batch["attention_mask"][row, :pad].sum() == 0 and batch["attention_mask"][row, pad:].all()
        assert batch["input_ids"][row, pad:].tolist() == ex.input_ids
        assert batch["position_ids"][row, pad:].tolist() == list(range(len(ex.input_ids)))
    with torch.no_grad():
        logits = model(**{k: v for k, v in batch.items() if k != "labels"}).logits
    for row, ex in enumerate(examples):
        pad = width - len(ex.input_ids)
        with torch.no_grad():
            alone = model(input_ids=torch.tensor([ex.input_ids])).logits[0]
        torch.testing.assert_close(logits[row, pad:], alone, atol=1e-4, rtol=1e-4)
    assert padding_waste(collator) == pytest.approx(sum(width - len(e.input_ids) for e in examples) / (3 * width))


def test_packed_examples_do_not_attend_across_boundaries(tiny):
    model, tok = tiny
    examples, _ = tokenize_pairs(tok, PAIRS, max_length=512)
    rows = pack_examples(examples, pack_length=512)
    assert len(rows) == 1
    collator = PackedCollator(tok.pad_token_id)
    batch = collator(rows)
    assert "attention_mask" not in batch
    with torch.no_grad():
        packed = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=batch["use_cache"]).logits[0]
    start = 0
    for ex in examples:
        with torch.no_grad():
            alone = model(input_ids=torch.tensor([ex.input_ids])).logits[0]
        torch.testing.assert_close(packed[start:start + len(ex.input_ids)], alone, atol=1e-4, rtol=1e-4)
        start += len(ex.input_ids)
    # the training loss of the packed row is the sum of the examples' losses
    total = sum(_loss_per_example(model, e.input_ids, e.labels) for e in examples)
    packed_loss = torch.nn.functional.cross_entropy(
        packed[:-1], batch["labels"][0, 1:], ignore_index=IGNORE_INDEX, reduction="sum"
    )
    torch.testing.assert_close(packed_loss, total, atol=1e-3, rtol=1e-4)


def test_packing_fills_rows_and_keeps_every_example(tiny):
    _, tok = tiny
    examples, _ = tokenize_pairs(tok, PAIRS * 5, max_length=512)
    longest = max(len(e.input_ids) for e in examples)
    rows = pack_examples(examples, pack_length=2 * longest)
    assert sum(len(r["input_ids"]) for r in rows) == sum(len(e.input_ids) for e in examples)
    assert all(len(r["input_ids"]) <= 2 * longest for r in rows)
    assert sum(r["position_ids"].count(0) for r in rows) == len(examples)
    with pytest.raises(ValueError, match="does not fit"):
        pack_examples(examples, pack_length=longest - 1)


def _rows():
    return [{"task_id": f"t/{i}", "prompt": p, "target": t, "source": "test"} for i, (p, t) in enumerate(PAIRS)]


def test_training_data_from_datasetdict_parquet_and_jsonl(tmp_path):
    datasets = pytest.importorskip("datasets")
    rows = _rows()
    datasets.DatasetDict({"train": datasets.Dataset.from_list(rows[:2]),
                          "validation": datasets.Dataset.from_list(rows[2:])}).save_to_disk(str(tmp_path / "dd"))
    assert [r["task_id"] for r in load_split(str(tmp_path / "dd"), "train")] == ["t/0", "t/1"]
    assert [r["task_id"] for r in load_split(str(tmp_path / "dd"), "validation")] == ["t/2"]

    folder = tmp_path / "files"
    folder.mkdir()
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(rows[:2]), folder / "train.parquet")
    (folder / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:2]))
    (folder / "validation.jsonl").write_text(json.dumps(rows[2]) + "\n")
    assert len(load_split(str(folder), "train")) == 2  # the Parquet copy, not both
    assert len(load_split(str(folder), "validation")) == 1
    assert load_split(str(folder / "train.jsonl"), "train")[0]["prompt"] == PAIRS[0][0]
    assert load_split(str(folder / "train.jsonl"), "validation") is None
    with pytest.raises(FileNotFoundError):
        load_split(str(tmp_path / "nope"), "train")


def test_templates_render_rows_and_name_missing_fields():
    pairs = render(_rows(), "# {source}\n{prompt}", "{target}")
    assert pairs[0] == ("# test\n" + PAIRS[0][0], PAIRS[0][1])
    with pytest.raises(ValueError, match="lacks field 'docstring'"):
        render(_rows(), "{docstring}", "{target}")


def test_a_gguf_base_model_is_dequantised_into_a_trainable_savable_model(tmp_path):
    pytest.importorskip("gguf")
    from codexsd.training.base_model import load_for_training
    from tiny_models import build_tiny_gguf

    hf_dir = build_tiny_causal_lm(tmp_path / "hf")
    gguf_path = build_tiny_gguf(hf_dir, tmp_path / "tiny.gguf")
    model, tok = load_for_training(f"gguf:{gguf_path}")
    reference = transformers.AutoModelForCausalLM.from_pretrained(hf_dir)
    ids = torch.tensor([tok("def f(x):\n    return x + 1\n")["input_ids"]])
    with torch.no_grad():
        torch.testing.assert_close(model(ids).logits, reference(ids).logits, atol=1e-4, rtol=1e-4)
    assert all(p.dtype == torch.float32 and p.requires_grad for p in model.parameters())
    model.save_pretrained(tmp_path / "out")  # a quantised model would refuse
    assert transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "out") is not None
