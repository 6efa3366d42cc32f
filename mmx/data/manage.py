"""`mmx data`: what the catalogue holds, what is cached, fetching it ahead of an offline run, verifying it.

- list/info read mmx/data/catalog.yaml only (no network, no datasets import).
- download (mmx/runner.py ``download_benchmark``, since it runs task kinds) runs the benchmark's own task
  loaders over every row, so exactly what `mmx evaluate` reads lands in the Hugging Face caches.
- verify hashes the cached repository files the catalogue has sha256 sums for, and checks the cached
  revision against the pinned one; facts the catalogue could not confirm are reported as unverifiable,
  never as passed.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from mmx.data.catalog import Benchmark, benchmark, catalog
from mmx.errors import MmxError


def hub_cache_dir() -> Path:
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def repo_cache(hub_id: str) -> Path:
    return hub_cache_dir() / f"datasets--{hub_id.replace('/', '--')}"


def cached_snapshot(b: Benchmark) -> Path | None:
    """The local snapshot folder of the benchmark's pinned (or main) revision, when one is cached."""
    if b.hub is None:
        return None
    root = repo_cache(b.hub.id)
    rev = b.hub.revision
    if rev and len(rev) == 40 and (root / "snapshots" / rev).is_dir():
        return root / "snapshots" / rev
    ref = root / "refs" / (rev or "main")
    if ref.is_file():
        snap = root / "snapshots" / ref.read_text(encoding="utf-8").strip()
        return snap if snap.is_dir() else None
    return None


def cache_state(b: Benchmark) -> str:
    if b.hub is None:
        return "local only"
    if cached_snapshot(b):
        return "cached"
    return "partly cached" if repo_cache(b.hub.id).is_dir() else "not cached"


def human_size(n: int | None) -> str:
    if n is None:
        return "?"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return "?"


def provenance_summary(b: Benchmark) -> str:
    counts: dict[str, int] = {}
    for lang in b.languages:
        p = b.provenance_of(lang)
        counts[p] = counts.get(p, 0) + 1
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))


def listing() -> list[dict]:
    out = []
    for name, b in sorted(catalog().benchmarks.items()):
        out.append({"name": name, "title": b.title, "modality": b.modality,
                    "source": b.hub.id if b.hub else "local files", "licence": b.licence,
                    "gated": b.gated, "size": human_size(b.size_bytes), "languages": len(b.languages),
                    "provenance": provenance_summary(b), "cache": cache_state(b), "tasks": list(b.tasks)})
    return out


@dataclass
class Verification:
    name: str
    snapshot: Path | None
    ok: list[str] = field(default_factory=list)
    bad: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unverifiable: list[str] = field(default_factory=list)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify(name: str, snapshot: Path | None = None) -> Verification:
    """Hash the cached files (or those in ``snapshot``, a local copy in the Hub's layout) against the
    catalogue's sha256 sums."""
    b = benchmark(name)
    snap = snapshot or cached_snapshot(b)
    v = Verification(name, snap)
    if snap is None:
        raise MmxError(f"{name}: nothing cached to verify; run `mmx data download {name}` first "
                       "(or give --path to a local copy in the Hub's layout)")
    if b.hub and not b.hub.revision:
        v.unverifiable.append("revision: the catalogue pins none (not confirmed from a public source)")
    if not b.sha256:
        v.unverifiable.append("files: the catalogue has no sha256 sums for this set (not confirmed)")
    for rel, want in sorted(b.sha256.items()):
        f = snap / rel
        if not f.is_file():
            v.missing.append(rel)
        elif sha256(f) != want:
            v.bad.append(f"{rel}: sha256 {sha256(f)[:12]}..., the catalogue says {want[:12]}...")
        else:
            v.ok.append(rel)
    return v
