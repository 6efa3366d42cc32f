"""Issue 11.2: `mmx validate FILE.yaml ...` checks task and suite files without running them."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

GOOD = """task: my_retrieval
kind: retrieval
dataset: {loader: caption_json, path: ../captions.json, images: ../images}
metrics: [t2i_r1, i2t_r1]
"""


def _validate(*files):
    p = subprocess.run([sys.executable, "-m", "mmx", "validate", *map(str, files)], capture_output=True,
                       text=True, timeout=300, cwd=ROOT)
    return p.returncode, p.stdout, p.stderr


def test_every_builtin_task_and_suite_file_is_valid_and_bad_files_are_explained(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text(GOOD)
    bad = {
        "key": (GOOD + "descripton: typo\n", r"descripton.*description"),
        "kind": (GOOD.replace("kind: retrieval", "kind: retreival"), r"unknown task kind 'retreival'. Did you mean retrieval"),
        "loader": (GOOD.replace("caption_json", "caption_jsn"), r"unknown dataset loader 'caption_jsn'. Did you mean caption_json"),
        "dskey": (GOOD.replace("images: ../images", "imagez: ../images"), r"imagez.*images"),
        "metric": (GOOD.replace("i2t_r1]", "i2t_r1, t2i_rl]"), r"t2i_rl"),
        "yaml": ("task: [unclosed\n", r"malformed YAML"),
        "suite": ("suite: s\ntasks: [probe_retrieval, probe_retreival]\ndefault_model: hf-clip:x\n",
                  r"suite s: unknown task 'probe_retreival'. Did you mean probe_retrieval"),
    }
    for name, (text, _) in bad.items():
        (tmp_path / f"bad_{name}.yaml").write_text(text)
    builtin = sorted((ROOT / "tasks").rglob("*.yaml"))
    assert len(builtin) > 20

    code, out, err = _validate(good, *builtin)
    assert code == 0, err
    assert out.count(": ok") == len(builtin) + 1

    code, out, err = _validate(good, *(tmp_path / f"bad_{n}.yaml" for n in bad))
    assert code == 2
    assert f"{good}: ok" in out and "Traceback" not in err
    import re

    for name, (_, pattern) in bad.items():
        msgs = [ln for ln in err.splitlines() if ln.startswith(str(tmp_path / f"bad_{name}.yaml"))]
        assert msgs and re.search(pattern, " ".join(msgs)), (name, err)
