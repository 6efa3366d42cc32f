"""mmx/metrics/defs.py: every metric a task YAML names has a definition (direction, display scale, unit),
the old per-kind direction overrides agree with it, and one formatter prints RTFx as it is, fractions x100."""
from pathlib import Path

import yaml

from mmx.metrics import defs

ROOT = Path(__file__).resolve().parents[1]


def yaml_metrics() -> set[str]:
    out = set()
    for p in (ROOT / "tasks").rglob("*.yaml"):
        spec = yaml.safe_load(p.read_text())
        if isinstance(spec, dict) and "metrics" in spec:
            out.update(spec["metrics"])
    return out


def test_every_metric_in_the_task_yamls_has_an_explicit_definition():

    names = yaml_metrics()
    assert {"pass@1", "t2i_r1", "wer", "rtfx", "vqa_acc", "top5", "duration_ratio"} <= names
    for m in names:
        assert defs._find(m) is not None, f"{m} has no definition in mmx/metrics/defs.py"
    raw = {m for m in names if defs.get_metric(m).scale == 1}
    assert raw == {"rtfx", "duration_ratio", "chars_per_s"}


def test_task_kind_overrides_agree_with_the_table():
    from mmx.tasks.asr import ASR
    from mmx.tasks.tts import TTS

    for kind in (ASR, TTS):
        for m, up in kind.higher_is_better.items():
            assert defs.higher_is_better(m) is up, m
    assert not defs.higher_is_better("cer_norm") and defs.higher_is_better("recall@5")


def test_one_formatter():
    assert defs.format_value("rtfx", 2.5) == "2.50"  # `mmx report` printed 250.0
    assert defs.format_value("wer", 0.1234) == "12.3" and defs.format_value("pass@1", 1.0) == "100.0"
    assert defs.format_value("t2i_r1", -0.05, signed=True) == "-5.0"
    assert defs.format_value("duration_ratio", 0.1, signed=True) == "+0.10"
    assert defs.format_value("wer", None) == "-" and defs.format_value("wer", float("nan")) == "-"
    assert defs.format_ci("top1", [0.1, 0.25]) == "[10.0, 25.0]" and defs.format_ci("rtfx", None) == "-"
    # A run's own metric_defs win: a metric stored with scale 1 prints as it is.
    assert defs.format_value("acc", 0.5, defs={"acc": {"scale": 1.0}}) == "0.50"
    assert defs.scale_note(["wer", "rtfx"]) == "scores x100 (rtfx as is)"
    assert defs.scale_note(["top1"]) == "scores x100" and defs.scale_note(["rtfx"]) == "scores as they are"
