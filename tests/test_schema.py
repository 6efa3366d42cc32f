"""Result schema: JSONL written as it goes, truncated tails dropped on resume, aggregates by hand."""
import json

import pytest

from mmx.errors import MmxError
from mmx.report.aggregate import aggregate_task
from mmx.schema import Record, RecordStore, read_results, write_json


def rec(i, lang, **scores):
    return Record(id=i, language=lang, prediction=None, reference=None, scores=scores)


def test_store_appends_and_reads_back(tmp_path):
    p = tmp_path / "s.jsonl"
    st = RecordStore(p)
    st.write([rec("a", "en", acc=1.0), rec("b", "de", acc=0.0)])
    st.close()
    lines = p.read_text().splitlines()
    assert [json.loads(x)["id"] for x in lines] == ["a", "b"]  # on disk before close() returned
    st2 = RecordStore(p)
    assert st2.has("a") and st2.has("b") and not st2.has("c")
    with pytest.raises(ValueError, match="duplicate"):
        st2.write([rec("a", "en", acc=1.0)])


def test_store_drops_a_line_cut_by_a_kill(tmp_path):
    p = tmp_path / "s.jsonl"
    st = RecordStore(p)
    st.write([rec("a", "en", acc=1.0)])
    st.close()
    with open(p, "a") as fh:
        fh.write('{"id": "b", "langu')  # killed mid-write
    st2 = RecordStore(p)
    assert st2.has("a") and not st2.has("b")
    st2.write([rec("b", "en", acc=0.5)])
    st2.close()
    assert [json.loads(x)["id"] for x in p.read_text().splitlines()] == ["a", "b"]


def test_store_rejects_a_corrupt_complete_line(tmp_path):
    p = tmp_path / "s.jsonl"
    p.write_text('{"id": "a", "language": "en", "scores": {}}\nnot json\n')
    with pytest.raises(MmxError, match="s.jsonl"):
        RecordStore(p)


def test_aggregate_by_hand():
    records = [rec("1", "en", acc=1.0), rec("2", "en", acc=0.0), rec("3", "en", acc=1.0),
               rec("4", "de", acc=0.0), rec("5", "de", acc=float("nan")), rec("6", "de", other=1.0)]
    agg = aggregate_task(records, ["acc"])
    assert agg["languages"]["en"]["metrics"]["acc"] == pytest.approx(2 / 3)
    assert agg["languages"]["de"]["metrics"]["acc"] == 0.0  # NaN and missing scores left out
    assert agg["languages"]["de"]["n"]["acc"] == 1
    assert agg["overall"]["macro"]["acc"] == pytest.approx((2 / 3 + 0) / 2)
    assert agg["overall"]["micro"]["acc"] == pytest.approx(2 / 4)
    assert agg["gap_to_en"]["de"]["acc"] == pytest.approx(-2 / 3)
    assert agg["gap_to_en"]["en"]["acc"] == 0.0


def test_read_results_errors(tmp_path):
    with pytest.raises(MmxError, match="no results.json"):
        read_results(tmp_path)
    (tmp_path / "results.json").write_text("{")
    with pytest.raises(MmxError, match="not valid JSON"):
        read_results(tmp_path)
    write_json(tmp_path / "results.json", {"schema_version": 99})
    with pytest.raises(MmxError, match="schema_version"):
        read_results(tmp_path)


def test_ratio_metric_is_a_ratio_of_sums():
    # Corpus WER: (1 + 3) / (4 + 6) = 0.4, not the mean of per-sample WERs (0.25 + 0.5) / 2.
    records = [rec("1", "en", errors=1.0, words=4.0), rec("2", "en", errors=3.0, words=6.0),
               rec("3", "de", errors=0.0, words=5.0)]
    agg = aggregate_task(records, ["wer"], {"wer": ("errors", "words")})
    assert agg["languages"]["en"]["metrics"]["wer"] == pytest.approx(0.4)
    assert agg["languages"]["de"]["metrics"]["wer"] == 0.0
    assert agg["overall"]["micro"]["wer"] == pytest.approx(4 / 15)
    assert agg["overall"]["macro"]["wer"] == pytest.approx(0.2)
    assert agg["metric_defs"]["wer"] == {"type": "ratio", "num": "errors", "den": "words", "higher_is_better": False,
                                         "stats": ["errors", "words"], "reducer": "ratio",
                                         "scale": 100.0, "unit": "points (x100)", "ci": "bootstrap-percentile"}
