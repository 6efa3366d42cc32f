"""A new metric is ONE definition (mmx/metrics/defs.py's register_metric): registered here, in the test
only, it goes through aggregation, bootstrap CIs, `mmx compare` and the reports with no other change."""
import io
import json
import math
import random

import pytest
from rich.console import Console
from scipy.stats import gmean

from mmx.metrics import defs
from mmx.metrics.defs import Metric, get_metric, register_metric
from mmx.report.aggregate import aggregate_task, ratios_of
from mmx.report.compare import compare_runs
from mmx.report.html import to_html
from mmx.report.run import load_run
from mmx.report.summary import summarize, to_markdown
from mmx.report.table import render_tables
from mmx.schema import Record
from test_compare import write_run


@pytest.fixture
def registry():
    saved, reducers = list(defs._REGISTRY), dict(defs.REDUCERS)
    yield
    defs._REGISTRY[:] = saved
    defs.REDUCERS.clear()
    defs.REDUCERS.update(reducers)


def records(seed, slow_lang=None, factor=1.0, n=80):
    rnd = random.Random(seed)
    out = []
    for lang in ("de", "en", "fr"):
        for i in range(n):
            speed = math.exp(random.Random(f"{lang}{i}").gauss(1.0, 0.5)) * rnd.uniform(0.95, 1.05)
            speed *= factor if lang == slow_lang else 1.0
            toks, secs = rnd.randint(5, 50), rnd.uniform(0.5, 3.0) / (factor if lang == slow_lang else 1.0)
            out.append(Record(id=f"{lang}/{i}", language=lang, prediction="x", reference="x",
                              scores={"log_speed": math.log(speed), "speed": speed, "tokens": toks, "seconds": secs}))
    return out


def test_new_metric_is_one_definition(registry, tmp_path):
    # The whole definition of two new metrics: a geometric mean (a new reducer) and a ratio of sums.
    register_metric(Metric("speedup", stats=("log_speed",), reducer="geomean",
                           reduce=lambda s, n: __import__("numpy").exp(s[..., 0] / n),
                           scale=1.0, unit="x", description="geometric mean speed-up"))
    register_metric(Metric("tokens_per_s", stats=("tokens", "seconds"), reducer="ratio", scale=1.0, unit="tokens/s"))
    metrics = ["speedup", "tokens_per_s"]
    recs = records(0)
    agg = aggregate_task(recs, metrics, n_resamples=300)
    de = [r for r in recs if r.language == "de"]
    assert agg["languages"]["de"]["metrics"]["speedup"] == pytest.approx(gmean([r.scores["speed"] for r in de]))
    assert agg["languages"]["de"]["metrics"]["tokens_per_s"] == pytest.approx(
        sum(r.scores["tokens"] for r in de) / sum(r.scores["seconds"] for r in de))
    d = agg["metric_defs"]["speedup"]
    assert (d["reducer"], d["stats"], d["scale"], d["unit"], d["ci"]) == ("geomean", ["log_speed"], 1.0, "x",
                                                                        "bootstrap-percentile")
    for lang, v in agg["languages"].items():
        for m in metrics:
            lo, hi = v["ci"][m]
            assert lo < v["metrics"][m] < hi, (lang, m)
    base = write_run(tmp_path / "base", recs, metrics=tuple(metrics))
    new = write_run(tmp_path / "new", records(1, slow_lang="fr", factor=0.5), metrics=tuple(metrics))
    for m in metrics:
        res = compare_runs(load_run(base), load_run(new), metric=m, threshold=0.1, n_resamples=300)
        assert res["regressions"] == ["syn/fr"], (m, res["changes"])
        fr = next(c for c in res["changes"] if c["language"] == "fr")
        assert fr["new"] == pytest.approx(fr["baseline"] * 0.5, rel=0.1) and fr["unit"] in ("x", "tokens/s")
    s = summarize(load_run(base))
    md = to_markdown(s)
    want = f"{agg['languages']['de']['metrics']['speedup']:.2f}"  # scale 1: shown as is, 2 decimals
    assert "speedup" in md and want in md
    out = io.StringIO()
    render_tables(json.loads((base / "results.json").read_text()), Console(file=out, width=200))
    assert want in out.getvalue()
    assert "speedup" in to_html(s)


def test_unregistered_reducer_in_results_is_a_clear_error(registry, tmp_path):
    register_metric(Metric("speedup", stats=("log_speed",), reducer="geomean",
                           reduce=lambda s, n: __import__("numpy").exp(s[..., 0] / n)))
    base = write_run(tmp_path / "base", records(0), metrics=("speedup",))
    del defs.REDUCERS["geomean"]
    from mmx.errors import MmxError
    with pytest.raises(MmxError, match="unknown metric reducer 'geomean'"):
        compare_runs(load_run(base), load_run(base), n_resamples=50)


def test_builtin_definitions_and_old_metric_defs():
    assert get_metric("wer").spec("wer") == defs.Spec(("wer_errors", "wer_words"), "ratio")
    assert get_metric("rtfx").spec("rtfx") == defs.Spec(("audio_s", "compute_s"), "ratio")
    assert get_metric("pass@10").spec("pass@10") == defs.Spec(("pass@10",), "mean")
    assert get_metric("bleu").reducer == "bleu" and len(get_metric("chrf").stats) == 18
    # results.json written before the registry: type mean / ratio with num, den
    old = {"wer": {"type": "ratio", "num": "wer_errors", "den": "wer_words"}, "acc": {"type": "mean"}}
    assert ratios_of(old) == {"wer": defs.Spec(("wer_errors", "wer_words"), "ratio"), "acc": defs.Spec(("acc",), "mean")}


def test_old_results_json_compares_the_same(tmp_path):
    rnd = random.Random(2)
    recs = [Record(id=f"{l}/{i}", language=l, prediction="", reference="",
                   scores={"wer_errors": rnd.randint(0, 5), "wer_words": rnd.randint(5, 10)})
            for l in ("de", "en") for i in range(40)]
    worse = [Record(id=r.id, language=r.language, prediction="", reference="",
                    scores={**r.scores, "wer_errors": r.scores["wer_errors"] + (2 if r.language == "de" else 0)})
             for r in recs]
    base, new = write_run(tmp_path / "b", recs, metrics=("wer",)), write_run(tmp_path / "n", worse, metrics=("wer",))
    now = compare_runs(load_run(base), load_run(new), n_resamples=200)
    for d in (base, new):  # strip what the registry added: the older layout
        res = json.loads((d / "results.json").read_text())
        md = res["tasks"]["syn"]["metric_defs"]["wer"]
        for k in ("stats", "reducer"):
            md.pop(k)
        md["type"] = "ratio"
        (d / "results.json").write_text(json.dumps(res))
    then = compare_runs(load_run(base), load_run(new), n_resamples=200)
    assert now["regressions"] == then["regressions"] == ["syn/de"]
    assert [c["p"] for c in now["changes"]] == [c["p"] for c in then["changes"]]
