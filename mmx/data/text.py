"""Reading users' text files: UTF-8 (a BOM is allowed) or a clear error that names the file and the encoding
it seems to be in, as detected by charset_normalizer (the detector requests uses)."""
from __future__ import annotations

from pathlib import Path

from mmx.errors import MmxError


def not_utf8(path: Path, data: bytes, err: UnicodeDecodeError, name: str = "") -> MmxError:
    from charset_normalizer import from_bytes

    best = from_bytes(data[:1 << 20]).best()
    enc = best.encoding if best is not None else "an unknown encoding"
    prefix = f"{name}: " if name else ""
    return MmxError(f"{prefix}{path} is not UTF-8 text (byte {err.start} is {data[err.start:err.start + 1]!r}); "
                    f"it looks like {enc}. Convert it, e.g. `iconv -f {enc} -t UTF-8 {path} > NEW_FILE`")


def read_text(path: Path, name: str = "") -> str:
    """The file's text; not UTF-8 is an MmxError naming the file and the encoding found."""
    path = Path(path)
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise not_utf8(path, data, e, name) from None
