"""Benchmarks from the Hugging Face Hub, or the same files in a local folder, through one ``datasets`` path.

A loader that reads a Hub benchmark takes ``source``: a Hub dataset id (``google/fleurs``) or a local folder
holding the repository's files in the Hub's layout (a ``huggingface-cli download`` of it, or the test
fixtures under tests/fixtures/hub/). Both go through ``datasets.load_dataset``, which picks the same
packaged builder (parquet, json, csv, audiofolder ...) from the same files, so the code that runs against
the Hub is the code the offline tests run.

- The revision comes from the data catalogue (mmx/data/catalog.yaml) unless the task pins its own;
  the commit a Hub id resolved to is part of the data fingerprint, so results say which data they saw.
- HF_TOKEN is passed for gated sets; a gated set without access says where to ask for it.
- HF_HUB_OFFLINE=1 (or no network) with nothing cached says which command fetches the set.
- ``limit`` streams: only the first rows of each split/config are read.
- ``rows`` checks every row has the columns the loader maps (the catalogue's field mapping) and names the
  row and the columns the file does have when one is missing.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator

from mmx.errors import MmxError


def is_local(source: str | Path) -> bool:
    return Path(str(source)).expanduser().is_dir()


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


_REACHED: set[str] = set()  # hosts this process has reached


def hub_offline_if_unreachable(timeout: float = 3.0) -> bool:
    """If the hub cannot be reached, switch huggingface_hub to offline (cache-only) mode for this process.

    Without this, every from_pretrained on an uncached hub id retries for about a minute before failing.
    Returns True when offline mode is (now) on.
    """
    import socket
    from urllib.parse import urlparse

    if offline():
        return True
    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or "huggingface.co"
    if host in _REACHED:  # one connection per process: every config of a set and the model ask again
        return False
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        _REACHED.add(host)
        return False
    except OSError:
        os.environ["HF_HUB_OFFLINE"] = "1"
        try:
            import huggingface_hub.constants as hc

            hc.HF_HUB_OFFLINE = True  # read once at import time, so set the module constant as well
        except ImportError:
            pass
        try:
            import datasets.config

            datasets.config.HF_HUB_OFFLINE = True  # datasets reads it once too
        except ImportError:
            pass
        return True


def _fetch_hint(benchmark: str, source: str) -> str:
    return (f"fetch it once with `mmx data download {benchmark}` (or `huggingface-cli download {source} "
            f"--repo-type dataset --local-dir DIR` and point the task's dataset source at DIR)")


def load(source: str | Path, *, benchmark: str, split: str | None, config: str | None = None,
         revision: str | None = None, data_files: Any = None, streaming: bool = False):
    """``datasets.load_dataset`` for a Hub id or a local folder in the Hub's layout, with mmx's errors.
    ``split=None`` returns every split (a DatasetDict, or an IterableDatasetDict when streaming): sets that
    keep one split per language (floschne/xgqa) are read that way."""
    try:
        import datasets
    except ImportError as e:  # pragma: no cover - datasets is a pinned dependency
        raise MmxError(f"{benchmark}: reading Hub data needs the `datasets` package (pip install datasets)") from e
    from huggingface_hub import errors as hub_errors

    local = is_local(source)
    src = str(Path(str(source)).expanduser().resolve()) if local else str(source)
    if not local and src != "json":
        hub_offline_if_unreachable()  # no network: the cache or a clear error now, not a minute of retries
    kwargs: dict[str, Any] = {"split": split, "streaming": streaming}
    if config:
        kwargs["name"] = config
    if data_files is not None:
        kwargs["data_files"] = data_files
    if not local:
        kwargs["revision"] = revision
        kwargs["token"] = os.environ.get("HF_TOKEN") or None
    where = f"{benchmark} ({src}{f', config {config}' if config else ''}{f', split {split}' if split else ''})"
    try:
        return datasets.load_dataset(src, **kwargs)
    except hub_errors.GatedRepoError as e:
        raise MmxError(f"{where}: the dataset is gated. Accept its terms at https://huggingface.co/datasets/{src} "
                       "while logged in, then set HF_TOKEN to a token of that account") from e
    except (hub_errors.RepositoryNotFoundError, datasets.exceptions.DatasetNotFoundError) as e:
        if "gated" in str(e).lower():  # datasets reports a gated repository as not found, saying so
            raise MmxError(f"{where}: the dataset is gated. Accept its terms at https://huggingface.co/datasets/"
                           f"{src} while logged in, then set HF_TOKEN to a token of that account") from e
        raise MmxError(f"{where}: no such dataset on the Hub (or no access: set HF_TOKEN); {e}") from e
    except datasets.exceptions.DatasetGenerationError as e:  # e.g. one file's columns differ from the rest
        raise MmxError(f"{where}: the files do not form one table ({e.__cause__ or e}); is this the right "
                       f"dataset and revision? (see `mmx data info {benchmark}`)") from e
    except ValueError as e:  # unknown config or split: datasets lists the valid ones in its message
        raise MmxError(f"{where}: {e}") from e
    except (ConnectionError, OSError) as e:
        if local:
            raise MmxError(f"{where}: cannot read the files ({e})") from e
        if offline():
            raise MmxError(f"{where}: not in the local cache, and the Hub is offline (HF_HUB_OFFLINE, or no "
                           "network); "
                           f"{_fetch_hint(benchmark, src)}") from e
        raise MmxError(f"{where}: cannot reach the Hub ({type(e).__name__}: {e}); "
                       f"{_fetch_hint(benchmark, src)}, or set HF_HUB_OFFLINE=1 to use the cache") from e


def rows(ds, *, benchmark: str, where: str, columns: tuple[str, ...] = (), limit: int | None = None,
         ) -> Iterator[tuple[int, dict]]:
    """(row number, row) for the first ``limit`` rows, each checked for ``columns``."""
    names = getattr(ds, "column_names", None) or list(getattr(ds, "features", None) or [])
    missing = [c for c in columns if names and c not in names]
    if missing:
        raise MmxError(f"{benchmark} ({where}): column(s) {', '.join(missing)} missing; the data has "
                       f"{', '.join(names)}. Is this the right dataset and revision? (see `mmx data info {benchmark}`)")
    for i, row in enumerate(ds):
        if limit is not None and i >= limit:
            return
        gone = [c for c in columns if c not in row]
        if gone:
            raise MmxError(f"{benchmark} ({where}), row {i}: column(s) {', '.join(gone)} missing")
        yield i, row


def resolved_revision(source: str | Path, revision: str | None) -> str:
    """What identifies the data for fingerprints: the commit a Hub id resolves to in the local cache, or
    the local folder's path (its files are fingerprinted by the loader)."""
    if is_local(source):
        return f"local:{Path(str(source)).expanduser().resolve()}"
    from mmx.cache import hub_revision

    return f"hub:{source}@{hub_revision(str(source), revision, repo_type='dataset') or revision or 'main'}"


def fetch_url(url: str, dest: Path, *, benchmark: str) -> Path:
    """A raw file from a benchmark's public origin (a GitHub release, the COCO image server) into ``dest``,
    once: a finished file is reused, an interrupted one resumes (HTTP Range) from its ``.part``. Offline
    (HF_HUB_OFFLINE) a file not yet fetched is an error naming the command that fetches it."""
    import urllib.error
    import urllib.request

    dest = Path(dest)
    if dest.is_file():
        return dest
    if offline():
        raise MmxError(f"{benchmark}: {dest.name} is not cached ({url}) and HF_HUB_OFFLINE is set; "
                       f"fetch it once with `mmx data download {benchmark}`")
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.is_file() else 0
    req = urllib.request.Request(url, headers={"User-Agent": "mmx", **({"Range": f"bytes={have}-"} if have else {})})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp, open(part, "ab" if have and resp.status == 206 else "wb") as fh:
            while block := resp.read(1 << 20):
                fh.write(block)
    except (urllib.error.URLError, OSError) as e:
        raise MmxError(f"{benchmark}: cannot fetch {url} ({e}); check the network, or give the data's folder "
                       "as --data-args source=DIR") from e
    part.replace(dest)
    return dest
