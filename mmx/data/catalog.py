"""The data catalogue: mmx/data/catalog.yaml, the one place that says what each benchmark's data is.

Per benchmark: where it lives (Hub id, pinned revision, configs and splits, raw files), its licence and
access, size, languages with their provenance (native, human-translated, machine-translated), the field
mapping its loader applies, the tasks that read it, and which of these facts were confirmed from a public
source (with the source) and which were not. Loaders read the Hub id and revision from here; `mmx data`
lists, describes, downloads and verifies from here; reports group results by provenance from here.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Literal, Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mmx.errors import MmxError

CATALOG = Path(__file__).resolve().parent / "catalog.yaml"
Provenance = Literal["native", "human-translated", "machine-translated", "mixed", "unknown"]


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HubSource(_Closed):
    id: str = Field(description="the Hub dataset repository, e.g. google/fleurs")
    revision: Optional[str] = Field(None, description="a commit (40 hex) or tag; null: not confirmed, 'main' is used")
    configs: List[str] = Field([], description="the configs a task reads (empty: the default one)")
    splits: List[str] = Field([], description="the splits mmx reads")
    files: List[str] = Field([], description="raw files fetched with huggingface_hub (image or audio archives)")


class Fact(_Closed):
    fact: str
    source: str = Field(description="the public page, paper or file it was confirmed from")


class Benchmark(_Closed):
    title: str
    modality: Literal["vision", "speech", "vqa", "code", "text"]
    hub: Optional[HubSource] = None
    other_sources: List[str] = Field([], description="further files the sets needs (COCO images), where from")
    licence: str
    gated: bool = False
    access: str = Field("", description="how to get access when gated")
    size_bytes: Optional[int] = Field(None, description="download size; null: not confirmed")
    languages: List[str] = Field(description="the languages the set has, as mmx codes")
    provenance: Dict[str, Provenance] = Field(
        description="per language code; '*' is every language not listed")
    fields: Dict[str, str] = Field({}, description="mmx field <- the dataset's column (the loader's mapping)")
    tasks: List[str] = Field([], description="mmx tasks that read it")
    loader: str = Field("", description="the mmx dataset loader")
    confirmed: List[Fact] = []
    unconfirmed: List[str] = Field([], description="facts that could not be confirmed from a public source")
    sha256: Dict[str, str] = Field({}, description="file path in the repository -> sha256 (for `mmx data verify`)")

    def provenance_of(self, lang: str) -> str:
        return self.provenance.get(lang, self.provenance.get("*", "unknown"))


class Catalog(_Closed):
    benchmarks: Dict[str, Benchmark]


@lru_cache(maxsize=None)
def catalog(path: Path = CATALOG) -> Catalog:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return Catalog.model_validate(raw)
    except (OSError, yaml.YAMLError) as e:
        raise MmxError(f"{path}: cannot read the data catalogue ({e})") from e
    except ValidationError as e:
        raise MmxError(f"{path}: the data catalogue is malformed: {e}") from e


def benchmark(name: str) -> Benchmark:
    table = catalog().benchmarks
    if name not in table:
        import difflib

        close = difflib.get_close_matches(name, list(table), n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise MmxError(f"unknown benchmark {name!r} in the data catalogue.{hint} Known: {', '.join(sorted(table))}")
    return table[name]


def hub_id_and_revision(name: str, source: str | None = None) -> tuple[str, str | None]:
    """The source a loader reads: the given one (a Hub id or a local folder), else the catalogue's Hub id,
    with the catalogue's revision when the source is that Hub id."""
    b = benchmark(name)
    if b.hub is None and not source:
        raise MmxError(f"{name}: the catalogue names no Hub repository; give the data's folder as source")
    if not source or (b.hub and source == b.hub.id):
        return b.hub.id, b.hub.revision
    return source, None


def provenance_for(task: str, loader: str | None, languages: list[str]) -> dict | None:
    """{"benchmark": name, "languages": {code: provenance}} for a task whose data the catalogue describes
    (the benchmark listing the task, else the one read by its loader); None for data it does not know (the
    probe sets, a user's own files)."""
    table = catalog().benchmarks
    found = [n for n, b in table.items() if task in b.tasks] or [n for n, b in table.items() if loader and b.loader == loader]
    if len(found) != 1:
        return None
    b = table[found[0]]
    return {"benchmark": found[0], "languages": {c: b.provenance_of(c) for c in languages}}
