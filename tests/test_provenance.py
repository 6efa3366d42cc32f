"""Issue 13.2: results split by the provenance of each language's data (the data catalogue), with the
difference between provenance groups and its CI."""

import numpy as np
import pytest

from mmx.data.catalog import provenance_for
from mmx.report.aggregate import aggregate_task
from mmx.schema import Record


def _records(rates: dict[str, float], n=200, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for lang, p in rates.items():
        for i in range(n):
            out.append(Record(id=f"{lang}/{i}", language=lang, prediction="", reference="",
                              scores={"acc": float(rng.random() < p)}))
    return out


def test_groups_and_differences_by_provenance_hand_checked():
    rates = {"en": 0.9, "ja": 0.8, "de": 0.6, "fr": 0.5, "sw": 0.3}
    prov = {"en": "native", "ja": "native", "de": "human-translated", "fr": "human-translated",
            "sw": "machine-translated"}
    agg = aggregate_task(_records(rates), ["acc"], provenance={"benchmark": "demo", "languages": prov})
    acc = {c: d["metrics"]["acc"] for c, d in agg["languages"].items()}
    g = agg["groups"]["provenance"]
    assert sorted(g) == ["human-translated", "machine-translated", "native"]
    assert set(g["native"]["languages"]) == {"en", "ja"} and g["machine-translated"]["languages"] == ["sw"]
    assert g["native"]["macro"]["acc"] == pytest.approx((acc["en"] + acc["ja"]) / 2)
    diffs = agg["provenance"]["differences"]
    assert list(diffs) == ["native - human-translated", "native - machine-translated",
                           "human-translated - machine-translated"]  # the order of the catalogue's classes
    want = (acc["en"] + acc["ja"]) / 2 - (acc["de"] + acc["fr"]) / 2
    d = diffs["native - human-translated"]["acc"]
    assert d["value"] == pytest.approx(want) and d["ci"][0] < want < d["ci"][1]
    assert d["ci"][0] > 0  # 0.85 vs 0.55 on 200 samples a language: a real difference
    assert agg["provenance"]["languages"] == prov and agg["provenance"]["benchmark"] == "demo"
    # without provenance nothing is added
    plain = aggregate_task(_records(rates), ["acc"])
    assert "provenance" not in plain and "provenance" not in plain["groups"]


def test_the_catalogue_gives_a_tasks_provenance_and_none_for_unknown_data():
    p = provenance_for("xm3600_retrieval", "xm3600", ["de", "en"])
    assert p == {"benchmark": "xm3600", "languages": {"de": "native", "en": "native"}}
    p = provenance_for("xgqa", "xgqa", ["en", "de"])
    assert p["languages"] == {"en": "native", "de": "human-translated"}
    assert provenance_for("probe_retrieval", "caption_json", ["en"]) is None
