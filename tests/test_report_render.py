"""`mmx report`: Markdown, JSON and one self-contained HTML file, the HTML rendered in headless Chromium."""
import io
import json
import re
import shutil

import numpy as np
import pytest
from PIL import Image

from mmx.errors import MmxError
from mmx.languages import get_language
from mmx.report.run import load_run
from mmx.report.summary import summarize
from mmx.schema import Record, write_json
from cli_runner import cli, run_main
from test_compare import LANGS, base_records, write_run
from headless import CHROMIUM, embedded_images, rendered_dom, screenshot



@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("report")
    return write_run(d / "run", base_records(n=60), random_weights=True, spec="hf-clip:/tmp/tiny")


def test_markdown_report(run_dir, capsys):
    code, out, _ = cli(capsys, "report", run_dir)
    assert code == 0
    assert "RANDOM WEIGHTS" in out.split("\n## ")[0]  # in the header, before any table
    res = json.loads((run_dir / "results.json").read_text())["tasks"]["syn"]
    for lang in LANGS:
        d = res["languages"][lang]
        lo, hi = d["ci"]["acc"]
        row = f"| {lang} | {get_language(lang).name} |"
        assert row in out
        assert f"{100 * d['metrics']['acc']:.1f} [{100 * lo:.1f}, {100 * hi:.1f}]" in out
    assert "By script" in out and "| Cyrl | ru, uk |" in out and "Spread across languages" in out


def test_json_report_carries_the_aggregates(run_dir, capsys, tmp_path):
    code, _, _ = cli(capsys, "report", run_dir, "--format", "json", "--output", tmp_path / "r.json")
    assert code == 0
    s = json.loads((tmp_path / "r.json").read_text())
    res = json.loads((run_dir / "results.json").read_text())["tasks"]["syn"]
    assert s["random_weights"] is True and sorted(s["tasks"]["syn"]["languages"]) == sorted(LANGS)
    de = s["tasks"]["syn"]["languages"]["de"]
    assert de["metrics"] == res["languages"]["de"]["metrics"] and de["ci"] == res["languages"]["de"]["ci"]
    assert de["gap_to_en"] == res["gap_to_en"]["de"] and de["name"] == "German"
    assert s["tasks"]["syn"]["spread"] == res["spread"]


def test_old_results_without_cis_are_completed_from_the_samples(run_dir, tmp_path):
    old = tmp_path / "old"
    shutil.copytree(run_dir, old)
    res = json.loads((old / "results.json").read_text())
    t = res["tasks"]["syn"]
    for key in ("groups", "spread", "gap_to_en_ci", "bootstrap"):
        del t[key]
    for d in t["languages"].values():
        del d["ci"]
    t["metric_defs"] = {"acc": {"type": "mean"}}
    write_json(old / "results.json", res)
    s = summarize(load_run(old))
    new = json.loads((run_dir / "results.json").read_text())["tasks"]["syn"]
    assert s["tasks"]["syn"]["languages"]["fr"]["ci"] == new["languages"]["fr"]["ci"]
    assert s["tasks"]["syn"]["groups"] == new["groups"]
    # ... which needs the samples: a truncated file is an error naming it.
    p = old / "samples" / "syn.jsonl"
    p.write_bytes(p.read_bytes()[:-5])
    with pytest.raises(MmxError, match=r"syn.jsonl:\d+: truncated"):
        summarize(load_run(old))


def test_report_bad_inputs(tmp_path, capsys):
    code, _, err = cli(capsys, "report", tmp_path)
    assert code == 2 and "no results.json" in err
    write_json(tmp_path / "results.json", {"schema_version": 1, "tasks": {}})
    code, _, err = cli(capsys, "report", tmp_path)
    assert code == 2 and "no tasks" in err
    code, _, err = cli(capsys, "report", tmp_path, "--format", "pdf")
    assert code == 2 and "use md, html or json" in err


def _html(run_dir, capsys, tmp_path):
    out = tmp_path / "report.html"
    code, _, _ = cli(capsys, "report", run_dir, "--format", "html", "--output", out)
    assert code == 0
    return out, out.read_text(encoding="utf-8")


def test_html_is_self_contained(run_dir, capsys, tmp_path):
    _, html = _html(run_dir, capsys, tmp_path)
    images = embedded_images(html)
    assert len(images) == 3  # heat map, per-language bars, gap to English
    for img in images:
        assert img.size[0] > 300 and img.size[1] > 200
    assert 'id="random-weights"' in html and "RANDOM WEIGHTS" in html


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (make sysdeps installs it)")
def test_html_renders_in_headless_chromium(run_dir, capsys, tmp_path):
    path, _ = _html(run_dir, capsys, tmp_path)
    dom = rendered_dom(path, tmp_path / "profile")
    text = re.sub(r"<[^>]+>", " ", dom)
    assert "RANDOM WEIGHTS" in text
    for lang in LANGS:
        assert re.search(rf"\b{lang}\b", text) and get_language(lang).name in text
    assert dom.count("<img") == 3
    shot = tmp_path / "shot.png"
    screenshot(path, tmp_path / "profile", shot, "1280,2000")
    img = Image.open(shot).convert("RGB")
    assert img.size == (1280, 2000)
    # The red RANDOM WEIGHTS banner is drawn near the top of the page.
    top = np.asarray(img.crop((0, 0, 1280, 300))).astype(int)
    red = (top[..., 0] > 150) & (top[..., 1] < 40) & (top[..., 2] < 60)
    assert red.sum() > 5000


@pytest.fixture(scope="module")
def asr_run(tmp_path_factory):
    """The real `mmx evaluate` of the ASR probe (2 languages, 2 samples each) with the tiny random Whisper:
    corpus WER is a ratio metric shown x100, RTFx a speed factor shown as it is."""
    from mmx.models.tiny_speech import build_tiny_whisper

    d = tmp_path_factory.mktemp("asr-report")
    model = build_tiny_whisper(d / "whisper")
    assert run_main("evaluate", "--tasks", "probe_asr", "--model", f"hf-whisper:{model}", "--languages", "en,de",
                    "--limit", 2, "--output", d / "run", "--no-progress", "--device", "cpu") == 0
    return d / "run"


def _cells(text: str, prefix: str) -> list[str]:
    line = next(x for x in text.splitlines() if x.startswith(prefix))
    return [c.strip() for c in line.strip().strip("|").split("|")]


def test_real_asr_run_shows_rtfx_as_is_and_wer_x100(asr_run, capsys, tmp_path):
    from rich.console import Console

    from mmx.report.table import render_tables

    res = json.loads((asr_run / "results.json").read_text())
    t = res["tasks"]["probe_asr"]
    defs = t["metric_defs"]
    assert defs["rtfx"]["scale"] == 1.0 and defs["rtfx"]["type"] == "ratio" and defs["rtfx"]["higher_is_better"]
    assert defs["wer"]["scale"] == 100.0 and defs["wer"]["type"] == "ratio" and not defs["wer"]["higher_is_better"]
    en = t["languages"]["en"]["metrics"]
    rtfx, wer = en["rtfx"], en["wer"]
    assert rtfx > 0 and wer is not None and f"{rtfx:.2f}" != f"{100 * rtfx:.1f}"
    # Markdown: the per-language row, cell by cell.
    code, md, _ = cli(capsys, "report", asr_run)
    assert code == 0
    head = _cells(md, "| lang | name | script |")
    row = dict(zip(head, _cells(md, "| en | English | Latn |")))
    assert row["rtfx"].split()[0] == f"{rtfx:.2f}" and row["wer x100 (lower=better)"].split()[0] == f"{100 * wer:.1f}"
    lo, hi = t["languages"]["en"]["ci"]["rtfx"]
    assert row["rtfx"] == f"{rtfx:.2f} [{lo:.2f}, {hi:.2f}]"
    assert "Per language (scores x100 (rtfx as is); speed on cpu (" in md
    # JSON carries the scale; HTML shows the same cells.
    code, js, _ = cli(capsys, "report", asr_run, "--format", "json")
    assert json.loads(js)["tasks"]["probe_asr"]["metric_defs"]["rtfx"]["scale"] == 1.0
    code, _, _ = cli(capsys, "report", asr_run, "--format", "html", "--output", tmp_path / "r.html")
    html = (tmp_path / "r.html").read_text()
    assert f"<td>{row['rtfx']}</td>" in html and f"<td>{row['wer x100 (lower=better)']}</td>" in html
    assert f"<td>{100 * rtfx:.1f} [" not in html
    # The table `mmx evaluate` prints.
    console = Console(width=250, record=True, file=io.StringIO())
    render_tables(res, console)
    text = console.export_text()
    assert "scores x100 (rtfx as is)" in " ".join(text.split()) and f" {rtfx:.2f} " in text
    assert f" {100 * wer:.1f} " in text and f" {100 * rtfx:.1f} " not in text
    # `mmx compare`: the same formatter.
    for metric, shown in (("rtfx", f"{rtfx:.2f}"), ("wer", f"{100 * wer:.1f}")):
        code, js, err = cli(capsys, "compare", asr_run, asr_run, "--metric", metric, "--format", "json")
        assert code == 0, (js, err)
        c = next(x for x in json.loads(js)["changes"] if x["language"] == "en")
        assert c["baseline"] == pytest.approx(en[metric])
        code, out, _ = cli(capsys, "compare", asr_run, asr_run, "--metric", metric, "--format", "md")
        assert code == 0
        cells = _cells(out, "| probe_asr | en |")
        assert cells[2] == (metric if metric == "rtfx" else "wer x100 (lower=better)")
        assert cells[4:7] == [shown, shown, "+0.00" if metric == "rtfx" else "+0.0"]


def test_evaluate_table_shows_the_primary_metric_ci(run_dir):
    from rich.console import Console

    from mmx.report.table import render_tables

    res = json.loads((run_dir / "results.json").read_text())
    console = Console(width=200, record=True)
    render_tables(res, console)
    text = console.export_text()
    lo, hi = res["tasks"]["syn"]["languages"]["sw"]["ci"]["acc"]
    assert "CI acc" in text and f"[{100 * lo:.1f}, {100 * hi:.1f}]" in text and "RANDOM WEIGHTS" in text
    flat = " ".join(text.split())  # the title wraps at the table's width
    assert "scores x100;" in flat and "CI: 95% Wilson" in flat


def test_aggregates_recomputed_for_an_old_run_keep_the_primary_metric(tmp_path):
    """results.json without CIs (an older mmx): the report recomputes the aggregates with the same code as the
    run, the task's primary metric included, so consistency is for that metric alone, as `mmx evaluate` wrote."""
    recs = [Record(r.id, r.language, None, None, {"acc": r.scores["acc"], "other": 1.0 - r.scores["acc"]})
            for r in base_records(n=20)]
    out = write_run(tmp_path / "old", recs, metrics=("acc", "other"))
    res = json.loads((out / "results.json").read_text())
    del res["tasks"]["syn"]["groups"]  # as written before CIs and groups existed
    write_json(out / "results.json", res)
    agg = load_run(out).aggregates("syn")
    assert "groups" in agg and set(agg["consistency"]) == {"acc"}
