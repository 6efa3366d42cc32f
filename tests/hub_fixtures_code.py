"""Offline copies of the code benchmarks' Hub repositories, in the layout and file types the Hub holds.

- HumanEval-XL (FloatAI/humaneval-xl): README.md + data/<pl>/<Natural>.jsonl, the GitHub repository's files
  (the Hub's loading script reads the same data/ files; mmx reads them with the json builder). Built FROM the
  real rows in ../shared/data/humaneval-xl, byte for byte, so the two layouts can be compared.
- MultiPL-E (nuprl/MultiPL-E): a parquet config per SRCDATA-LANG, README.md ``configs:`` pointing split
  test at <config>/test-*.parquet; columns name, language, prompt, doctests, original, prompt_terminology,
  tests, stop_tokens (list of strings).
- CRUXEval-X (xhwl/cruxeval-x): README.md ``configs:`` (default config, one split per programming language,
  data/<Split>-*), data/<Split>-00000-of-00001.parquet with columns id (int16), code, input_reasoning,
  output_reasoning. Rows are real ones (datasets/cruxeval_preprocessed/{py,js}.jsonl of
  github.com/CRUXEVAL-X/cruxeval-x, the rows the Hub dataset was built from).
"""
from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml


def _card(path: Path, front: dict, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("---\n" + yaml.safe_dump(front, sort_keys=False) + "---\n\n" + text + "\n", encoding="utf-8")


# ------------------------------------------------------------------------------------------ HumanEval-XL
def humaneval_xl(root: Path, shared_root: Path, pls=("python",), naturals=("English", "German"), n: int = 3) -> Path:
    """The Hub layout of HumanEval-XL with the first ``n`` lines of each real GitHub file, unchanged."""
    _card(root / "README.md", {"license": "apache-2.0", "task_categories": ["text-generation"]},
          "# HumanEval-XL (fixture)")
    for pl in pls:
        (root / "data" / pl).mkdir(parents=True, exist_ok=True)
        for nl in naturals:
            lines = (shared_root / pl / f"{nl}.jsonl").read_bytes().splitlines(keepends=True)[:n]
            (root / "data" / pl / f"{nl}.jsonl").write_bytes(b"".join(lines))
    return root


# ------------------------------------------------------------------------------------------- MultiPL-E
MULTIPL_E_ROWS = [
    {"name": "HumanEval_53_add", "language": "py",
     "prompt": "def add(x: int, y: int) -> int:\n    \"\"\"Add two numbers x and y\n    >>> add(2, 3)\n    5\n"
               "    \"\"\"\n",
     "doctests": "transform", "original": "../../datasets/originals/HumanEval_53_add.py",
     "prompt_terminology": "reworded",
     "tests": "def check(candidate):\n    assert candidate(0, 1) == 1\n    assert candidate(5, 7) == 12\n\n"
              "def test_check():\n    check(add)\n\ntest_check()\n",
     "stop_tokens": ["\ndef", "\n#", "\nif", "\nclass"]},
    {"name": "HumanEval_23_strlen", "language": "py",
     "prompt": "def strlen(string: str) -> int:\n    \"\"\" Return length of given string\n    >>> strlen('abc')\n"
               "    3\n    \"\"\"\n",
     "doctests": "transform", "original": "../../datasets/originals/HumanEval_23_strlen.py",
     "prompt_terminology": "reworded",
     "tests": "def check(candidate):\n    assert candidate('') == 0\n    assert candidate('x') == 1\n"
              "    assert candidate('asdasnakj') == 9\n\ndef test_check():\n    check(strlen)\n\ntest_check()\n",
     "stop_tokens": ["\ndef", "\n#", "\nif", "\nclass"]},
]
MULTIPL_E_SCHEMA = pa.schema([(k, pa.string()) for k in ("name", "language", "prompt", "doctests", "original",
                                                            "prompt_terminology", "tests")]
                             + [("stop_tokens", pa.list_(pa.string()))])


def multipl_e(root: Path, rows=None, config: str = "humaneval-py", drop: tuple[str, ...] = ()) -> Path:
    rows = MULTIPL_E_ROWS if rows is None else rows
    _card(root / "README.md", {"license": "mit", "configs": [
        {"config_name": config, "data_files": [{"split": "test", "path": f"{config}/test-*"}]}]},
          "# MultiPL-E (fixture)")
    (root / config).mkdir(parents=True, exist_ok=True)
    schema = pa.schema([f for f in MULTIPL_E_SCHEMA if f.name not in drop])
    table = pa.Table.from_pylist([{k: v for k, v in r.items() if k not in drop} for r in rows], schema=schema)
    pq.write_table(table, root / config / "test-00000-of-00001.parquet")
    return root


# ------------------------------------------------------------------------------------------ CRUXEval-X
def _py(i, call, out, body):
    code_test = f"def check(candidate):\n    assert candidate({call}) == {{}}\n\ndef test_check():\n    check(f)\n\ntest_check()\n"
    return {"id": i, "code": body + "\n\n" + code_test.format(out),
            "input_reasoning": code_test.format(out).replace(f"candidate({call})", "candidate(????)"),
            "output_reasoning": code_test.format("????")}


def _js(i, call, out, body):
    test = ("const assert = require('node:assert');\n\n\nfunction test() {\n  let candidate = f;\n"
            "  assert.deepEqual(candidate(%s),%s);\n}\n\ntest();")
    return {"id": i, "code": body + "\n" + test % (call, out), "input_reasoning": test % ("????", out),
            "output_reasoning": test % (call, "????")}


# (id, input as the test writes it, expected output, function): rows 2, 3, 9, 17 of CRUXEval-X Python and
# 0, 2, 3 of JavaScript.
CRUX_PY = [
    _py(2, "'hbtofdeiequ'", "'hbtofdeiequ'",
        "def f(text: str) -> str:    \n    new_text = list(text)\n    for i in '+':\n        if i in new_text:\n"
        "            new_text.remove(i)\n    return ''.join(new_text)"),
    _py(3, "'bcksrut', 'q'", "'bcksrutq'",
        "def f(text: str, value: str) -> str:    \n    text_list = list(text)\n    text_list.append(value)\n"
        "    return ''.join(text_list)"),
    _py(9, "'#284376598'", "False",
        "def f(t: str) -> bool:    \n    for c in t:\n        if not c.isnumeric():\n            return False\n"
        "    return True"),
    _py(17, "'There are, no, commas, in this text'", "9",
        "def f(text: str) -> int:    \n    return text.find(\",\")"),
]
CRUX_JS = [
    _js(0, "[1, 1, 3, 1, 3, 1]", "[[4, 1], [4, 1], [4, 1], [4, 1], [2, 3], [2, 3]]",
        "function f(nums){\n    let output = [];\n    nums.forEach(n => {\n        output.push([nums.filter(num => "
        "num === n).length, n]);\n    });\n    output.sort((a, b) => b[0] - a[0]);\n    return output;\n}"),
    _js(2, '"hbtofdeiequ"', '"hbtofdeiequ"',
        "function f(text){\n    let new_text = text.split('');\n    for(let i of '+'){\n        if(new_text.includes(i)){\n"
        "            new_text.splice(new_text.indexOf(i), 1);\n        }\n    }\n    return new_text.join('');\n}"),
    _js(3, '"bcksrut", "q"', '"bcksrutq"',
        "function f(text, value){\n    var text_list = text.split('');\n    text_list.push(value);\n"
        "    return text_list.join('');\n}"),
]
CRUX_SCHEMA = pa.schema([("id", pa.int16()), ("code", pa.string()), ("input_reasoning", pa.string()),
                         ("output_reasoning", pa.string())])


def cruxeval_x(root: Path, splits=None, drop: tuple[str, ...] = ()) -> Path:
    """``splits``: split name (Python, JavaScript, ...) -> rows."""
    splits = {"Python": CRUX_PY, "JavaScript": CRUX_JS} if splits is None else splits
    _card(root / "README.md", {
        "dataset_info": {"features": [{"name": f.name, "dtype": str(f.type)} for f in CRUX_SCHEMA if f.name not in drop],
                         "splits": [{"name": s, "num_bytes": sum(len(str(v)) for x in r for v in x.values()),
                                     "num_examples": len(r)} for s, r in splits.items()]},
        "configs": [{"config_name": "default",
                     "data_files": [{"split": s, "path": f"data/{s}-*"} for s in splits]}]},
          "# CRUXEVAL-X (fixture)")
    (root / "data").mkdir(parents=True, exist_ok=True)
    schema = pa.schema([f for f in CRUX_SCHEMA if f.name not in drop])
    for s, rows in splits.items():
        table = pa.Table.from_pylist([{k: v for k, v in r.items() if k not in drop} for r in rows], schema=schema)
        pq.write_table(table, root / "data" / f"{s}-00000-of-00001.parquet")
    return root


# ------------------------------------------------------------------------------------------- catalogue
HUB_IDS = {"humaneval_xl": "FloatAI/humaneval-xl", "multipl_e": "nuprl/MultiPL-E", "cruxeval_x": "xhwl/cruxeval-x"}


def with_catalogue(monkeypatch) -> None:
    """Until mmx/data/catalog.yaml holds the code benchmarks (their entries are written separately and
    merged into it), give the loaders a minimal entry for each; a no-op once the catalogue has them."""
    from mmx.data import catalog
    from mmx.errors import MmxError

    real = catalog.benchmark

    def benchmark(name):
        try:
            return real(name)
        except MmxError:
            if name not in HUB_IDS:
                raise
            return catalog.Benchmark(title=name, modality="code", hub={"id": HUB_IDS[name]}, licence="see card",
                                     languages=["en"], provenance={"*": "unknown"})

    monkeypatch.setattr(catalog, "benchmark", benchmark)


def private_datasets_cache(monkeypatch, folder: Path) -> None:
    """`datasets` writes its Arrow cache under ``folder`` instead of the user's ~/.cache."""
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", Path(folder))
