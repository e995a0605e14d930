"""`codexsd export-gguf`: a trained transformers Llama folder written as GGUF runs in llama.cpp
exactly like the folder runs in transformers. The template GGUF (tokenizer, hyper-parameters) is
the tiny random Llama written by the test helper; the "trained" model is another seed of the same
architecture, so the weights in the file can only have come from the model, not the template."""

from __future__ import annotations

import pytest

pytest.importorskip("llama_cpp")
gguf = pytest.importorskip("gguf")

from codexsd.cli import main as cli_main  # noqa: E402
from codexsd.models import SamplingParams, load_sampler  # noqa: E402
from codexsd.models.gguf_export import GGUFExportError, export_gguf  # noqa: E402
from tiny_models import build_tiny_causal_lm, build_tiny_gguf  # noqa: E402

PROMPTS = ["def add(a, b):\n    return", "import os\n\n\ndef main():\n    \"\"\"Print the working directory.\"\"\"\n"]
GREEDY = SamplingParams(n=1, temperature=0.0, max_new_tokens=12, stop=())


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    base = build_tiny_causal_lm(root / "base", arch="llama", seed=0)
    template = build_tiny_gguf(base, root / "base.gguf")
    trained = build_tiny_causal_lm(root / "trained", arch="llama", seed=1)
    return root, template, trained


@pytest.mark.parametrize("out_type", ["f32", "f16", "q8_0"])
def test_exported_gguf_samples_like_the_transformers_folder(models, out_type):
    root, template, trained = models
    path = export_gguf(trained, root / f"trained-{out_type}.gguf", template=template, out_type=out_type)
    hf = load_sampler(f"hf:{trained}").sample(PROMPTS, GREEDY)
    with load_sampler(f"gguf:{path}", batch_size=2, ctx_tokens=512) as llama:
        ours = llama.sample(PROMPTS, GREEDY)
        scores = llama.score(PROMPTS, ["    return a + b\n", "    print(os.getcwd())\n"])
    with load_sampler(f"gguf:{template}", batch_size=2, ctx_tokens=512) as base:
        base_scores = base.score(PROMPTS, ["    return a + b\n", "    print(os.getcwd())\n"])
    hf_scores = load_sampler(f"hf:{trained}").score(PROMPTS, ["    return a + b\n", "    print(os.getcwd())\n"])
    tol = {"f32": 0.01, "f16": 0.05, "q8_0": 0.3}[out_type]
    assert scores == pytest.approx(hf_scores, abs=tol)
    assert base_scores != pytest.approx(hf_scores, abs=tol)  # the template's weights would not pass
    if out_type != "q8_0":  # 8-bit rounding may flip a near-tie of a random model's greedy choice
        assert [r[0].text for r in ours] == [r[0].text for r in hf]
    fields = gguf.GGUFReader(str(path)).fields
    assert fields["general.file_type"].contents() == {"f32": 0, "f16": 1, "q8_0": 7}[out_type]
    assert "tokenizer.chat_template" not in fields  # the tiny model has none: llama.cpp must not chat-wrap


def test_mismatched_template_is_a_clear_error(models, tmp_path):
    root, template, _ = models
    wider = build_tiny_causal_lm(tmp_path / "other", arch="llama", seed=2)
    import json

    cfg = json.loads((wider / "config.json").read_text())
    cfg["num_hidden_layers"] += 1
    (wider / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(GGUFExportError, match="num_hidden_layers"):
        export_gguf(wider, tmp_path / "x.gguf", template=template)
    assert not (tmp_path / "x.gguf").exists()


def test_command_line(models, capsys):
    root, template, trained = models
    out = root / "cli.gguf"
    assert cli_main(["export-gguf", str(trained), "--template", str(template), "--type", "f16", "-o", str(out)]) == 0
    assert out.is_file() and str(out) in capsys.readouterr().out
