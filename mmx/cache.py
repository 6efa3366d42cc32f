"""On-disk cache of model outputs (embeddings, transcripts, generations), shared by every run.

Keyed by the model (spec, args and, for a local folder, its files' names/sizes/mtimes; the adapter's
own cache version, the versions of the libraries that compute its outputs, and a hub model's
revision), what is computed (e.g. "image-emb" or the generation settings) and the input's content
(image bytes, text), so a rerun, a new metric or a new task over the same inputs costs no model call.
SQLite (stdlib) holds it: one file, safe for several processes. A damaged file (truncated, bad page,
not SQLite at all) is moved aside to ``outputs.sqlite.corrupt-<time>`` with a note, and the run goes
on with a fresh cache. `--no-cache` turns it off; MMX_CACHE_DIR moves it; `mmx cache info|clear`.
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import io
import json
import os
import re
import sqlite3
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from mmx.dist import Dist
from mmx.errors import MmxError
from mmx.speed import load_seconds

CACHE_FILE = "outputs.sqlite"
APPLICATION_ID = 0x6D6D7801  # "mmx\x01" in the SQLite header: how `mmx cache clear` knows the file is ours


def default_cache_dir() -> Path:
    return Path(os.environ.get("MMX_CACHE_DIR") or Path.home() / ".cache" / "mmx")


def content_key(*parts: str | bytes) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p if isinstance(p, bytes) else p.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()


def file_key(path: Path) -> str:
    return content_key(Path(path).read_bytes())


def library_version(name: str) -> str:
    """The installed version of a distribution (e.g. "transformers"), or "absent"."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?")


def hub_revision(repo_id: str, revision: str | None = None, repo_type: str = "model") -> str | None:
    """The commit a hub id (a model, or with ``repo_type="dataset"`` a dataset) resolves to in the local
    Hugging Face cache (refs/<revision or main>).

    A 40-hex `revision` is a commit already. None when the id is not in the local cache (not downloaded
    yet, or not a hub id at all, e.g. an OpenAI server's model name).
    """
    if revision and re.fullmatch(r"[0-9a-f]{40}", revision):
        return revision
    repo_id = repo_id.removeprefix("hf-hub:")
    if not _HUB_ID.fullmatch(repo_id) or Path(repo_id).expanduser().exists():
        return None
    try:
        from huggingface_hub import constants

        hub = Path(constants.HF_HUB_CACHE)
    except ImportError:
        return None
    ref = hub / f"{repo_type}s--{repo_id.replace('/', '--')}" / "refs" / (revision or "main")
    try:
        return ref.read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def model_key(spec: str, args: dict[str, str], family: type | None = None) -> str:
    """Identify what computes a model's outputs, so that a change to any of it misses the cache.

    - the spec and its args (less the family's ``uncached_args``: transport settings such as a timeout or
      an API key, which change how a request is sent, not its answer); for a local folder its files'
      names, sizes and mtimes;
    - for a hub id, the commit it resolves to (the `revision` arg, or refs/main in the local HF cache);
    - with the adapter class (`family`): its `cache_version` (bumped when mmx changes how that adapter
      prepares inputs or reads outputs) and the installed versions of its `cache_libraries`.
    """
    skip = set(getattr(family, "uncached_args", ()))
    parts = [spec, json.dumps(sorted((k, v) for k, v in args.items() if k not in skip))]
    name = spec.split(":", 1)[-1]
    for piece in name.replace("+", "\n").replace("@", "\n").splitlines():
        p = Path(piece).expanduser()
        if p.exists():
            files = [p] if p.is_file() else sorted(x for x in p.rglob("*") if x.is_file())
            for f in files:
                st = f.stat()
                parts.append(f"{f.relative_to(p) if p.is_dir() else f.name}:{st.st_size}:{st.st_mtime_ns}")
        else:
            rev = hub_revision(piece, args.get("revision"))
            if rev:
                parts.append(f"hub-revision:{piece}@{rev}")
    if family is not None:
        parts.append(f"adapter-cache-version:{getattr(family, 'cache_version', 0)}")
        parts += [f"lib:{lib}=={library_version(lib)}" for lib in getattr(family, "cache_libraries", ())]
    return content_key(*parts)[:32]


def _encode(v: Any) -> tuple[str, bytes]:
    if isinstance(v, np.ndarray):
        buf = io.BytesIO()
        np.save(buf, v, allow_pickle=False)
        return "npy", buf.getvalue()
    return "json", json.dumps(v, ensure_ascii=False).encode("utf-8")


def _decode(kind: str, blob: bytes) -> Any:
    if kind == "npy":
        return np.load(io.BytesIO(blob), allow_pickle=False)
    return json.loads(blob.decode("utf-8"))


def is_corruption(e: BaseException) -> bool:
    """SQLite's "database disk image is malformed" (SQLITE_CORRUPT) or "file is not a database" (SQLITE_NOTADB);
    not "database is locked" and other errors that a retry or the user must deal with."""
    if not isinstance(e, sqlite3.DatabaseError):
        return False
    code = getattr(e, "sqlite_errorname", "") or ""  # Python >= 3.11
    msg = str(e).lower()
    return code.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or "malformed" in msg or "not a database" in msg


def _connect(path: Path) -> sqlite3.Connection:
    # check_same_thread off: a lazy model loading in a loader thread writes its info (OutputCache._lock serialises)
    db = sqlite3.connect(path, timeout=60, check_same_thread=False)
    try:
        try:
            db.execute("PRAGMA journal_mode=WAL")  # readers don't block the writer
        except sqlite3.OperationalError as e:
            if is_corruption(e):
                raise
            # another process is switching it right now: it's a speed setting only
        db.execute("CREATE TABLE IF NOT EXISTS out (key TEXT PRIMARY KEY, kind TEXT, value BLOB, ns TEXT)")
        if "ns" not in {r[1] for r in db.execute("PRAGMA table_info(out)")}:
            try:  # a cache from an older mmx: the namespace column feeds `mmx cache info`
                db.execute("ALTER TABLE out ADD COLUMN ns TEXT")
            except sqlite3.OperationalError as e:
                if "duplicate column" not in str(e):
                    raise
        if db.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
            db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    except BaseException:
        db.close()
        raise
    return db


def set_aside(path: Path) -> Path:
    """Rename a damaged cache file (and its -wal/-shm companions) to <name>.corrupt-<time>; return the new name."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    dest = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while dest.exists():
        n += 1
        dest = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
    for suffix in ("", "-wal", "-shm"):  # a stale WAL must not be replayed into the fresh file
        src = Path(f"{path}{suffix}")
        if src.exists():
            os.replace(src, f"{dest}{suffix}")
    return dest


class OutputCache:
    def __init__(self, root: Path | None = None, enabled: bool = True):
        self.enabled = enabled
        self.hits = self.misses = 0
        self._db: sqlite3.Connection | None = None
        self.path: Path | None = None
        self.set_aside: list[Path] = []  # damaged files moved aside by this instance
        self._lock = threading.RLock()  # one statement at a time: the connection is shared across threads
        if enabled:
            root = Path(root or default_cache_dir())
            root.mkdir(parents=True, exist_ok=True)
            self.path = root / CACHE_FILE
            try:
                self._open()
            except sqlite3.DatabaseError as e:
                if not is_corruption(e):
                    raise
                self._recover(e)

    def _open(self) -> None:
        self._db = _connect(self.path)

    def _recover(self, e: sqlite3.DatabaseError) -> None:
        """The file is damaged: move it aside, say so, and open a fresh one."""
        if self._db:
            try:
                self._db.close()
            except sqlite3.Error:
                pass
            self._db = None
        dest = set_aside(self.path)
        self.set_aside.append(dest)
        print(f"note: the output cache {self.path} is damaged ({e}): moved it aside to {dest.name} and "
              "started a fresh cache; outputs are computed again", file=sys.stderr)
        self._open()

    def _guarded(self, op: Callable[[], Any]) -> Any:
        """Run op; if SQLite finds the file damaged on the way, recover and run op again on the fresh file."""
        with self._lock:
            try:
                return op()
            except sqlite3.DatabaseError as e:
                if not is_corruption(e):
                    raise
                self._recover(e)
                return op()

    def get_many(self, namespace: str, keys: Sequence[str]) -> dict[str, Any]:
        if not self._db or not keys:
            return {}
        return self._guarded(lambda: self._get_many(namespace, keys))

    def _get_many(self, namespace: str, keys: Sequence[str]) -> dict[str, Any]:
        full = {content_key(namespace, k): k for k in keys}
        found: dict[str, Any] = {}
        items = list(full)
        for i in range(0, len(items), 500):  # SQLite caps the number of bound parameters
            chunk = items[i:i + 500]
            q = f"SELECT key, kind, value FROM out WHERE key IN ({','.join('?' * len(chunk))})"
            for k, kind, blob in self._db.execute(q, chunk):
                try:
                    found[full[k]] = _decode(kind, blob)
                except (ValueError, UnicodeDecodeError, OSError, EOFError):
                    pass  # a damaged value is a miss: computed again and replaced
        return found

    def put_many(self, namespace: str, items: dict[str, Any]) -> None:
        if not self._db or not items:
            return
        rows = [(content_key(namespace, k), *_encode(v), namespace) for k, v in items.items()]

        def put() -> None:
            with self._db:
                self._db.executemany("INSERT OR REPLACE INTO out (key, kind, value, ns) VALUES (?, ?, ?, ?)", rows)

        self._guarded(put)

    def close(self) -> None:
        with self._lock:
            if self._db:
                self._db.close()
                self._db = None


def _mmx_cache_file(path: Path) -> Path | None:
    """The mmx cache file at `path` (a cache folder or the file itself), None when a folder holds none.

    Raises MmxError for anything that is not an mmx output cache, so `mmx cache clear` never touches it.
    """
    path = Path(path).expanduser()
    f = path / CACHE_FILE if path.is_dir() else path
    if path.is_dir() and not f.exists():
        return None
    if not f.is_file():
        raise MmxError(f"{path} does not exist: give the mmx cache folder (default {default_cache_dir()}) "
                       f"or its {CACHE_FILE}")
    try:
        db = sqlite3.connect(f.resolve().as_uri() + "?mode=ro", uri=True)
        try:
            app = db.execute("PRAGMA application_id").fetchone()[0]
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            cols = {r[1] for r in db.execute("PRAGMA table_info(out)")}
        finally:
            db.close()
    except sqlite3.DatabaseError as e:
        raise MmxError(f"{f} is not a readable mmx output cache ({e}); mmx leaves it alone. A damaged mmx "
                       "cache is moved aside by the next `mmx evaluate`") from e
    # caches written before the application id existed: the one table `out` with mmx's columns
    if app != APPLICATION_ID and not (tables == {"out"} and {"key", "kind", "value"} <= cols):
        raise MmxError(f"{f} is not an mmx output cache (tables: {', '.join(sorted(tables)) or 'none'}); "
                       "mmx leaves it alone")
    return f


def _size(f: Path) -> int:
    return sum(p.stat().st_size for p in (f, Path(f"{f}-wal"), Path(f"{f}-shm")) if p.exists())


def cache_info(path: Path | None = None) -> dict[str, Any]:
    """What the cache at `path` (default: the cache folder in use) holds: entries and bytes per kind of
    output (image-emb, asr, complete...), how many models, and damaged files set aside."""
    path = Path(path or default_cache_dir()).expanduser()
    f = _mmx_cache_file(path)
    folder = f.parent if f else path
    aside = sorted(str(p) for p in folder.glob(f"{CACHE_FILE}.corrupt-*") if not p.name.endswith(("-wal", "-shm")))
    info: dict[str, Any] = {"path": str(f or path / CACHE_FILE), "exists": f is not None,
                            "size_bytes": _size(f) if f else 0, "entries": 0, "models": 0, "kinds": {},
                            "set_aside": aside}
    if not f:
        return info
    db = sqlite3.connect(f.resolve().as_uri() + "?mode=ro", uri=True)
    try:
        has_ns = "ns" in {r[1] for r in db.execute("PRAGMA table_info(out)")}  # an older mmx wrote no ns
        rows = db.execute(f"SELECT {'ns' if has_ns else 'NULL'}, count(*), sum(length(value)) FROM out "
                          f"GROUP BY 1").fetchall()
    finally:
        db.close()
    models = set()
    for ns, n, size in rows:
        # namespaces are "<model key>|<kind>[|details]" (or "model-info"); NULL from an older mmx
        head, _, rest = (ns or "").partition("|")
        kind = rest.split("|")[0] if rest else (head or "unknown (older mmx)")
        if rest:
            models.add(head)
        k = info["kinds"].setdefault(kind, {"entries": 0, "bytes": 0})
        k["entries"] += n
        k["bytes"] += size or 0
        info["entries"] += n
    info["models"] = len(models)
    return info


def clear_cache(path: Path | None = None) -> dict[str, Any]:
    """Delete every entry of the mmx cache at `path` and the damaged files mmx set aside there.

    Only a file that is an mmx cache is touched (see _mmx_cache_file); the folder and anything else
    in it stay. Entries are deleted inside SQLite, so a run using the cache right now stays consistent.
    """
    info = cache_info(path)
    if info["exists"]:
        db = sqlite3.connect(info["path"], timeout=60)
        try:
            with db:
                db.execute("DELETE FROM out")
            db.execute("VACUUM")  # give the space back
        finally:
            db.close()
    for p in info["set_aside"]:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{p}{suffix}").unlink(missing_ok=True)
    return info


# decode and prepare inputs (images, audio) ahead of the model; PIL, soundfile and torch release the GIL.
# More threads on a larger machine: a GPU eats a ViT-B/32's images faster than 4 threads prepare them.
LOADER_THREADS = max(4, min(16, os.cpu_count() or 4))


def _call_with_backoff(fn: Callable[[list], list], batch: list, timer: Any = None) -> list:
    """Run fn on a batch; on CUDA out-of-memory, halve the batch and retry (down to one item).

    `timer` (mmx.speed.Timer) is handed each successful call's inputs, outputs and seconds, less a lazy model's
    load inside it: the halves of a split batch are timed on their own, since each call's counts (e.g. the
    model's last_generation) are its own, and the failed attempt is no model time."""
    try:
        t0, l0 = time.perf_counter(), load_seconds()
        out = list(fn(batch))
    except Exception as e:  # torch.cuda.OutOfMemoryError, without importing torch here
        if "out of memory" not in str(e).lower() or len(batch) <= 1:
            raise
        try:
            import torch

            torch.cuda.empty_cache()
        except Exception:
            pass
        half = len(batch) // 2
        return _call_with_backoff(fn, batch[:half], timer) + _call_with_backoff(fn, batch[half:], timer)
    if timer is not None:
        timer.record(batch, out, time.perf_counter() - t0 - (load_seconds() - l0))
    return out


def cached_map(fn: Callable[[list], list], items: Sequence[Any], keys: Sequence[str], namespace: str,
               batch_size: int, cache: OutputCache, dist: Dist | None = None,
               sort_key: Callable[[Any], Any] | None = None, progress: Callable[[int], None] | None = None,
               load: Callable[[Any], Any] | None = None, timer: Any = None) -> list[Any]:
    """fn over items in batches, with the cache in front and the batches dealt across ranks.

    `sort_key` groups similar items (e.g. texts by length) into batches to cut padding; `load`
    turns an item into the model's input (e.g. decodes an image) in a thread pool, ahead of the model.
    `timer` (mmx.speed.SpeedMeter.timer) is handed the seconds of each model call, and nothing around it.
    Returns outputs in the order of `items` on every rank.
    """
    dist = dist or Dist()
    hits = cache.get_many(namespace, list(keys)) if dist.is_main else {}
    todo = [i for i, k in enumerate(keys) if k not in hits] if dist.is_main else None
    todo = dist.broadcast(todo)
    if sort_key is not None:
        todo = sorted(todo, key=lambda i: sort_key(items[i]))  # stable: ties keep input order
    batches = [todo[i:i + batch_size] for i in range(0, len(todo), batch_size)]
    mine = batches[dist.rank::dist.world]
    computed: dict[str, Any] = {}
    if progress and hits:
        progress(len(hits))
    if mine:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(LOADER_THREADS) as pool:
            prep = (lambda b: list(pool.map(load, [items[i] for i in b]))) if load else (lambda b: [items[i] for i in b])
            nxt = pool.submit(prep, mine[0])
            for j, b in enumerate(mine):
                inputs = nxt.result()
                if j + 1 < len(mine):
                    nxt = pool.submit(prep, mine[j + 1])  # load the next batch while the model runs
                outs = _call_with_backoff(fn, inputs, timer)
                computed.update({keys[i]: o for i, o in zip(b, outs)})
                if progress:
                    progress(len(b))
    if dist.enabled:
        merged: dict[str, Any] = {}
        for part in dist.all_gather(computed):
            merged.update(part)
        computed = merged
        hits = dist.broadcast(hits)
    if dist.is_main:
        cache.put_many(namespace, computed)
        cache.misses += len(computed)
        cache.hits += len(hits)
    return [hits[k] if k in hits else computed[k] for k in keys]
