"""Issue 12: the one path to Hub data (mmx/data/hub.py), the catalogue, and `mmx data`. No network: Hub ids
are tried only with HF_HUB_OFFLINE=1 and an empty cache, local folders hold files in the Hub's layout."""
import hashlib

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mmx.data import hub, manage
from mmx.data.catalog import Benchmark, HubSource, catalog
from mmx.errors import MmxError
from tests.cli_runner import cli

ROWS = [{"id": i, "text": f"sentence {i}", "lang": "de" if i % 2 else "fr"} for i in range(50)]


@pytest.fixture
def hub_folder(tmp_path):
    """A dataset repository as the Hub holds a parquet set: data/<split>-00000-of-00001.parquet."""
    root = tmp_path / "repo"
    (root / "data").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(ROWS), root / "data" / "test-00000-of-00001.parquet")
    return root


@pytest.fixture
def offline_empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf" / "datasets"))
    import datasets.config
    import huggingface_hub.constants

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))


def test_a_local_folder_in_the_hub_layout_reads_through_datasets(hub_folder):
    ds = hub.load(hub_folder, benchmark="demo", split="test")
    got = [row for _, row in hub.rows(ds, benchmark="demo", where="test", columns=("id", "text"))]
    assert got == ROWS  # every value, in order
    streamed = hub.load(hub_folder, benchmark="demo", split="test", streaming=True)
    first = [row for _, row in hub.rows(streamed, benchmark="demo", where="test", limit=3)]
    assert first == ROWS[:3]


def test_a_missing_column_names_the_columns_the_data_has(hub_folder):
    ds = hub.load(hub_folder, benchmark="demo", split="test")
    with pytest.raises(MmxError, match=r"demo \(test\): column\(s\) audio missing; the data has id, text, lang"):
        list(hub.rows(ds, benchmark="demo", where="test", columns=("text", "audio")))


def test_a_split_the_set_does_not_have_is_named(hub_folder):
    with pytest.raises(MmxError, match=r"demo .*split validation.*"):
        hub.load(hub_folder, benchmark="demo", split="validation")


def test_offline_and_not_cached_says_which_command_fetches_it(offline_empty_cache):
    with pytest.raises(MmxError) as e:
        hub.load("google/fleurs", benchmark="fleurs", split="test", config="de_de")
    msg = str(e.value)
    assert "HF_HUB_OFFLINE" in msg and "mmx data download fleurs" in msg and "google/fleurs" in msg


def test_a_gated_set_says_how_to_get_access(monkeypatch):
    import datasets
    from huggingface_hub.errors import GatedRepoError

    import httpx2

    url = "https://huggingface.co/datasets/mozilla-foundation/common_voice_17_0/resolve/main/README.md"
    response = httpx2.Response(403, request=httpx2.Request("GET", url))

    def gated(*a, **k):  # what huggingface_hub raises for a gated repository without access
        raise GatedRepoError("403 Client Error: access to this dataset is restricted", response=response)

    monkeypatch.setattr(datasets, "load_dataset", gated)
    monkeypatch.setenv("HF_TOKEN", "hf_test")
    with pytest.raises(MmxError, match=r"gated.*huggingface.co/datasets/mozilla-foundation/common_voice_17_0.*HF_TOKEN"):
        hub.load("mozilla-foundation/common_voice_17_0", benchmark="common_voice", split="test", config="de")


def test_datasets_own_gated_and_generation_errors_are_explained(monkeypatch, tmp_path):
    import datasets

    def gated(*a, **k):  # what datasets 5 raises for a gated repository without a token
        raise datasets.exceptions.DatasetNotFoundError("Dataset 'ai4bharat/indicvoices_r' is a gated dataset on the "
                                                       "Hub. You must be authenticated to access it.")

    monkeypatch.setattr(datasets, "load_dataset", gated)
    with pytest.raises(MmxError, match=r"gated.*huggingface.co/datasets/ai4bharat/indicvoices_r.*HF_TOKEN"):
        hub.load("ai4bharat/indicvoices_r", benchmark="indicvoices_r", split="test")
    monkeypatch.undo()
    root = tmp_path / "mixed"
    (root / "data").mkdir(parents=True)  # two files of one split whose columns differ
    pq.write_table(pa.Table.from_pylist([{"id": 1, "text": "a"}]), root / "data" / "test-00000-of-00002.parquet")
    pq.write_table(pa.Table.from_pylist([{"id": 2, "audio": 3.5}]), root / "data" / "test-00001-of-00002.parquet")
    with pytest.raises(MmxError, match=r"mixed .*(do not form one table|column|schema)"):
        list(hub.load(root, benchmark="mixed", split="test"))


def test_the_token_and_revision_reach_datasets_for_a_hub_id_only(monkeypatch, hub_folder):
    import datasets

    seen = []
    monkeypatch.setattr(datasets, "load_dataset", lambda src, **k: seen.append((src, k)) or "ds")
    monkeypatch.setenv("HF_TOKEN", "hf_secret")
    hub.load("org/set", benchmark="b", split="test", config="c", revision="abc")
    hub.load(hub_folder, benchmark="b", split="test")
    assert seen[0] == ("org/set", {"split": "test", "streaming": False, "name": "c", "revision": "abc",
                                   "token": "hf_secret"})
    assert seen[1] == (str(hub_folder.resolve()), {"split": "test", "streaming": False})


def test_the_shipped_catalogue_is_complete_for_each_entry():
    from mmx.registry import LOADERS
    from mmx.tasks.base import load_task

    for name, b in catalog().benchmarks.items():
        assert b.languages, name
        for lang in b.languages:  # every language has a provenance, explicitly or through '*'
            assert b.provenance_of(lang) != "unknown" or "provenance" in " ".join(b.unconfirmed), (name, lang)
        for task in b.tasks:  # every task it lists exists (a task may read the set through another loader)
            load_task(task)
        if b.loader:
            assert b.loader in {e.name for e in LOADERS.listing()}, name
        if b.hub and not b.hub.revision:
            assert any("revision" in u for u in b.unconfirmed), f"{name}: an unpinned revision must be said"


def _bench(**kw):
    base = dict(title="Demo", modality="text", hub=HubSource(id="org/demo"), licence="MIT",
                languages=["de", "fr", "en"], provenance={"*": "human-translated", "en": "native"})
    return Benchmark(**{**base, **kw})


def test_verify_hashes_files_and_reports_what_it_cannot_check(monkeypatch, hub_folder):
    f = hub_folder / "data" / "test-00000-of-00001.parquet"
    good = hashlib.sha256(f.read_bytes()).hexdigest()
    monkeypatch.setattr(manage, "benchmark", lambda n: _bench(sha256={"data/test-00000-of-00001.parquet": good}))
    v = manage.verify("demo", hub_folder)
    assert v.ok == ["data/test-00000-of-00001.parquet"] and not v.bad and not v.missing
    assert any("revision" in u for u in v.unverifiable)  # no pin: said, never counted as passed
    monkeypatch.setattr(manage, "benchmark", lambda n: _bench(sha256={"data/test-00000-of-00001.parquet": "0" * 64,
                                                                      "data/extra.parquet": good}))
    v = manage.verify("demo", hub_folder)
    assert len(v.bad) == 1 and v.missing == ["data/extra.parquet"]


def test_provenance_summary_and_listing_reads_only_the_catalogue():
    b = _bench()
    assert manage.provenance_summary(b) == "human-translated 2, native 1"
    assert b.provenance_of("xx") == "human-translated"
    rows = manage.listing()
    assert {r["name"] for r in rows} == set(catalog().benchmarks)


def test_mmx_data_commands(capsys, offline_empty_cache):
    code, out, err = cli(capsys, "data", "list")
    assert code == 0, err
    for name in catalog().benchmarks:
        assert name in out
    code, out, err = cli(capsys, "data", "info", "nosuchset")
    assert code == 2 and "unknown benchmark 'nosuchset'" in err
    if catalog().benchmarks:
        name = sorted(catalog().benchmarks)[0]
        code, out, err = cli(capsys, "data", "info", name)
        assert code == 0 and name in out and "provenance" in out
        code, out, err = cli(capsys, "data", "download", name)
        assert code == 2 and "HF_HUB_OFFLINE is set" in err
