"""Corpus BLEU and chrF as registered metrics (mmx/metrics/corpus.py, mmx/metrics/defs.py): summed
per-sample sacrebleu statistics reduce to exactly sacrebleu's corpus score, and the aggregate, bootstrap
and paired-compare path handles them like any metric."""
import random

import pytest
import sacrebleu

from mmx.metrics.corpus import bleu_stats, chrf_stats
from mmx.metrics.defs import get_metric, reduce
from mmx.report.aggregate import aggregate_task
from mmx.report.compare import compare_runs
from mmx.report.run import load_run
from mmx.schema import Record
from test_compare import write_run

VOCAB = "the a cat dog sat on mat house red blue runs quickly , . it is was".split()


def sentence(rnd, lo=0, hi=12):
    return " ".join(rnd.choice(VOCAB) for _ in range(rnd.randint(lo, hi)))


def noisy(rnd, text, p):
    words = [w if rnd.random() > p else rnd.choice(VOCAB) for w in text.split()]
    return " ".join(w for w in words if rnd.random() > p / 3)


def summed(stats_of, hyps, refs_per_sample, keys):
    rows = [stats_of(h, rs) for h, rs in zip(hyps, refs_per_sample)]
    return [sum(r[k] for r in rows) for k in keys], len(rows)


@pytest.mark.parametrize("seed", range(40))
def test_summed_stats_equal_sacrebleu_corpus_scores(seed):
    rnd = random.Random(seed)
    n = rnd.choice([1, 1, 2, 5, 20])
    n_refs = rnd.choice([1, 2, 3])
    refs = [[sentence(rnd, 1) for _ in range(n_refs)] for _ in range(n)]
    hyps = [("" if rnd.random() < 0.15 else noisy(rnd, rs[0], rnd.random())) for rs in refs]
    streams = [[rs[j] for rs in refs] for j in range(n_refs)]  # sacrebleu: one stream per reference
    for name, stats_of, corpus in (("bleu", bleu_stats, sacrebleu.corpus_bleu),
                                   ("chrf", chrf_stats, sacrebleu.corpus_chrf)):
        spec = get_metric(name).spec(name)
        sums, k = summed(stats_of, hyps, refs, spec.stats)
        ours = float(reduce(sums, k, spec.reducer)) * 100
        assert ours == pytest.approx(corpus(hyps, streams).score, abs=1e-9), (name, hyps, refs)


def st_records(seed=0, n=60, langs=("de", "en"), p=0.2, ids=None):
    rnd = random.Random(seed)
    out = []
    for lang in langs:
        for i in range(n):
            ref = sentence(random.Random(f"{lang}{i}"), 3)
            hyp = noisy(rnd, ref, p)
            out.append(Record(id=f"{lang}/{i}", language=lang, prediction=hyp, reference=ref,
                              scores={**bleu_stats(hyp, [ref]), **chrf_stats(hyp, [ref])}))
    return out


def test_aggregate_bootstrap_and_compare_with_bleu_chrf(tmp_path):
    recs = st_records()
    agg = aggregate_task(recs, ["bleu", "chrf"], n_resamples=300)
    d = agg["metric_defs"]["bleu"]
    assert d["reducer"] == "bleu" and d["stats"] == [f"bleu_stat_{i}" for i in range(10)] and d["higher_is_better"]
    for lang in ("de", "en"):
        mine = [r for r in recs if r.language == lang]
        want = sacrebleu.corpus_bleu([r.prediction for r in mine], [[r.reference for r in mine]]).score / 100
        got = agg["languages"][lang]["metrics"]["bleu"]
        assert got == pytest.approx(want, abs=1e-12)
        for m in ("bleu", "chrf"):
            lo, hi = agg["languages"][lang]["ci"][m]
            v = agg["languages"][lang]["metrics"][m]
            assert lo <= v <= hi and hi - lo > 0.005, (lang, m, lo, v, hi)
    assert agg["gap_to_en_ci"]["de"]["bleu"] is not None
    base = write_run(tmp_path / "base", recs, metrics=("bleu", "chrf"))
    worse = [r for r in st_records(seed=0, p=0.2) if r.language == "en"] + \
        [r for r in st_records(seed=5, p=0.6) if r.language == "de"]
    new = write_run(tmp_path / "new", worse, metrics=("bleu", "chrf"))
    for m in ("bleu", "chrf"):
        res = compare_runs(load_run(base), load_run(new), metric=m, n_resamples=300)
        assert res["regressions"] == ["syn/de"], (m, res["changes"])
        de = next(c for c in res["changes"] if c["language"] == "de")
        assert de["delta"] < -0.1 and de["ci"][1] < 0 and de["mde"] is None
    same = compare_runs(load_run(base), load_run(base), metric="bleu", n_resamples=300)
    assert same["regressions"] == [] and all(c["delta"] == 0 for c in same["changes"])


def test_vectorised_reducers_equal_sacrebleu_row_by_row():
    """Bulk rows (bootstrap, permutations) take the vectorised formulas; each row must equal sacrebleu's."""
    import numpy as np
    from mmx.metrics import corpus

    rnd = random.Random(3)
    rows_b, rows_c = [], []
    for _ in range(400):  # summed statistics of random small corpora, including empty and zero-match ones
        refs = [[sentence(rnd, 0, 6)] for _ in range(rnd.randint(1, 4))]
        hyps = ["" if rnd.random() < 0.2 else noisy(rnd, rs[0], rnd.random()) for rs in refs]
        rows_b.append(summed(bleu_stats, hyps, refs, corpus.BLEU_KEYS)[0])
        rows_c.append(summed(chrf_stats, hyps, refs, corpus.CHRF_KEYS)[0])
    for rows, fast, metric in ((rows_b, corpus.bleu_vectorised, corpus._bleu()),
                               (rows_c, corpus.chrf_vectorised, corpus._chrf())):
        a = np.array(rows, dtype=float)
        assert np.allclose(fast(a), corpus._per_row(metric, a), rtol=0, atol=1e-12)
        assert len({round(v, 9) for v in fast(a)}) > 50  # the corpora really differ
