"""Speech data: FLEURS, Common Voice, a JSONL manifest, and mmx's espeak-ng probe set.

Every loader returns SpeechData: per mmx language code, the items (id, reference text, audio path).
Audio is not read here: a bad file is an error of its sample when the task loads it (``--on-error``).

Layouts (from a local folder; nothing is downloaded):
  fleurs        ROOT/<fleurs code>/<split>.tsv + ROOT/<fleurs code>/audio/<split>/<file>.wav
                (google/fleurs's data/ folder with the audio tars extracted; codes like de_de, cmn_hans_cn).
                TSV without header: id, file name, raw transcription, normalised transcription,
                characters, number of samples, gender. One sentence has several speakers: ids repeat,
                file names do not, so a sample is ``<lang>/<file name>``.
  common_voice  ROOT/<locale>/<split>.tsv + ROOT/<locale>/clips/<path> (cv-corpus-*/ as extracted), or
                ROOT itself being one locale's folder. TSV with header; columns path, sentence (locale).
  manifest      JSONL, one object per line: audio (or audio_filepath / path, relative to the file),
                text, language, optional id.
  speech_probe  the vision probe set's captions (assets/probe/captions.json) spoken by espeak-ng,
                synthesised on first use into the cache folder (see assets/generate_speech_probe.py).
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

from mmx.data.text import read_text
from mmx.errors import MmxError
from mmx.languages import normalize_code, pick_languages
from mmx.registry import register_loader

csv.field_size_limit(1 << 24)


@dataclass
class SpeechItem:
    id: str
    language: str
    text: str
    audio: Path | None
    # What the recording is of, shared across languages in parallel sets (FLEURS's sentence id, the probe's
    # image): pairs languages for the gap to English and gives speech translation its English reference.
    item: str | None = None


@dataclass
class SpeechData:
    name: str
    items: dict[str, list[SpeechItem]]  # mmx language code -> items
    source_codes: dict[str, str] = field(default_factory=dict)
    fingerprint: str = ""
    source: str = ""

    @property
    def languages(self) -> list[str]:
        return list(self.items)


def _finish(name: str, source: Path, by_lang: dict[str, list[SpeechItem]], source_codes: dict[str, str],
            languages: list[str] | None, limit: int | None, extra_hash: bytes = b"") -> SpeechData:
    want = pick_languages(by_lang, languages, name, source)
    items = {c: by_lang[c][:limit] if limit is not None else by_lang[c] for c in want}
    if not any(items.values()):
        raise MmxError(f"{name}: {source} holds no samples{' for ' + ', '.join(want) if want else ''}: "
                       "nothing to evaluate")
    for c in want:
        if items[c] and not any(it.text and it.text.strip() for it in items[c]):
            # WER over zero reference words is undefined: refuse rather than report a number
            raise MmxError(f"{name}: every reference transcript of language {c!r} in {source} is blank; "
                           "fix the file or leave the language out (--languages)")
    h = hashlib.sha256(extra_hash)
    for c in want:
        for it in items[c]:
            size = it.audio.stat().st_size if it.audio is not None and it.audio.is_file() else -1
            h.update(f"{it.id}\t{it.text}\t{size}\n".encode())
    return SpeechData(name, items, {c: source_codes.get(c, c) for c in want}, h.hexdigest()[:16], str(source))


def _add(by_lang: dict, codes: dict, code: str, item_factory, where: str) -> None:
    c = normalize_code(code, where)
    if c in codes and codes[c] != code:
        raise MmxError(f"{where}: {codes[c]!r} and {code!r} are the same language ({c}); keep one")
    codes[c] = code
    by_lang.setdefault(c, []).extend(item_factory(c))


@register_loader("fleurs")
def load_fleurs(path: Path, name: str = "fleurs", languages=None, limit=None, split: str = "test",
                text: str = "raw"):
    root = Path(path)
    if not root.is_dir():
        raise MmxError(f"{name}: FLEURS folder not found: {root} (expected ROOT/<lang>/{split}.tsv, e.g. de_de/)")
    if text not in ("raw", "normalized"):
        raise MmxError(f"{name}: text={text!r}: use raw or normalized")
    col = 2 if text == "raw" else 3
    wanted = None if languages is None else {normalize_code(x) for x in languages}
    by_lang: dict[str, list[SpeechItem]] = {}
    codes: dict[str, str] = {}
    for tsv in sorted(root.glob(f"*/{split}.tsv")):
        code = tsv.parent.name
        if wanted is not None and normalize_code(code, str(tsv)) not in wanted:
            continue
        audio_dir = tsv.parent / "audio" / split

        def items(c, tsv=tsv, audio_dir=audio_dir):
            out = []
            with io.StringIO(read_text(tsv, name), newline="") as f:
                for n, row in enumerate(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE), 1):
                    if len(row) < 4:
                        raise MmxError(f"{tsv}:{n}: expected FLEURS columns (id, file name, raw transcription, "
                                       f"normalised transcription, ...), got {len(row)} column(s)")
                    out.append(SpeechItem(f"{c}/{row[1]}", c, row[col], audio_dir / row[1], item=row[0]))
            return out

        _add(by_lang, codes, code, items, str(tsv))
    if not by_lang and wanted is None:
        raise MmxError(f"{name}: no <lang>/{split}.tsv under {root}; point it at FLEURS's data/ folder")
    return _finish(name, root, by_lang, codes, languages, limit, f"fleurs:{split}:{text}".encode())


@register_loader("common_voice")
def load_common_voice(path: Path, name: str = "common_voice", languages=None, limit=None, split: str = "test"):
    root = Path(path)
    tsvs = [root / f"{split}.tsv"] if (root / f"{split}.tsv").is_file() else sorted(root.glob(f"*/{split}.tsv"))
    if not tsvs:
        raise MmxError(f"{name}: no {split}.tsv in {root} or its locale folders (cv-corpus-*/<locale>/{split}.tsv)")
    wanted = None if languages is None else {normalize_code(x) for x in languages}
    by_lang: dict[str, list[SpeechItem]] = {}
    codes: dict[str, str] = {}
    for tsv in tsvs:
        with io.StringIO(read_text(tsv, name), newline="") as f:
            rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
        if rows and not {"path", "sentence"} <= set(rows[0]):
            raise MmxError(f"{tsv}: a Common Voice TSV needs the columns path and sentence; it has "
                           f"{', '.join(rows[0])}")
        folder_code = tsv.parent.name
        for code in sorted({r.get("locale") or folder_code for r in rows}):
            if wanted is not None and normalize_code(code, str(tsv)) not in wanted:
                continue
            _add(by_lang, codes, code, lambda c, code=code: [
                SpeechItem(f"{c}/{r['path']}", c, r["sentence"], tsv.parent / "clips" / r["path"])
                for r in rows if (r.get("locale") or folder_code) == code], str(tsv))
    return _finish(name, root, by_lang, codes, languages, limit, f"cv:{split}".encode())


@register_loader("manifest")
def load_manifest(path: Path, name: str = "manifest", languages=None, limit=None):
    path = Path(path)
    if not path.is_file():
        raise MmxError(f"{name}: manifest not found: {path}")
    by_lang: dict[str, list[SpeechItem]] = {}
    codes: dict[str, str] = {}
    seen: set[str] = set()
    for n, line in enumerate(read_text(path, name).splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{n}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise MmxError(f"{where}: not valid JSON ({e})") from e
        audio = obj.get("audio") or obj.get("audio_filepath") or obj.get("path")
        lang = obj.get("language") or obj.get("lang") or obj.get("locale")
        if not audio or "text" not in obj or not lang:
            raise MmxError(f"{where}: each line needs audio (path), text and language, got keys {', '.join(obj)}")
        c = normalize_code(lang, where)
        codes.setdefault(c, lang)
        sid = f"{c}/{obj.get('id') or audio}"
        if sid in seen:
            raise MmxError(f"{where}: duplicate sample {sid!r}; give each line a distinct id")
        seen.add(sid)
        p = Path(audio)
        by_lang.setdefault(c, []).append(SpeechItem(sid, c, str(obj["text"]), p if p.is_absolute() else path.parent / p))
    return _finish(name, path, by_lang, codes, languages, limit, path.read_bytes())


# --- the probe set --------------------------------------------------------------------------------------

PROBE_VERSION = "1"  # bump when the synthesis settings below change


def probe_dir(captions: Path, cache: Path | None = None) -> Path:
    """Where the spoken probe set lives: keyed by the captions' content and espeak-ng's version."""
    from mmx.audio.espeak import espeak_binary, espeak_version
    from mmx.cache import default_cache_dir

    key = hashlib.sha256(Path(captions).read_bytes() + espeak_version(espeak_binary()).encode()
                         + PROBE_VERSION.encode()).hexdigest()[:16]
    return Path(cache or default_cache_dir()) / "speech-probe" / key


def synthesize_probe(captions: Path, out: Path, languages=None, limit=None) -> dict[str, list[SpeechItem]]:
    """Speak each language's captions with espeak-ng into out/<lang>/probe_NNN.wav (only missing files)."""
    import os

    from mmx.audio.espeak import espeak_binary, espeak_voice, espeak_wav

    obj = json.loads(read_text(Path(captions)))
    binary = espeak_binary()
    by_lang: dict[str, list[SpeechItem]] = {}
    wanted = None if languages is None else {normalize_code(x) for x in languages}
    for code, caps in obj["captions"].items():
        c = normalize_code(code, captions)
        if wanted is not None and c not in wanted:
            continue
        voice = espeak_voice(c, binary)
        items = []
        for img, cl in list(zip(obj["images"], caps))[:limit]:
            stem = Path(img).stem
            wav = out / c / f"{stem}.wav"
            if not wav.is_file():
                wav.parent.mkdir(parents=True, exist_ok=True)
                tmp = wav.with_suffix(f".tmp{os.getpid()}")
                tmp.write_bytes(espeak_wav(cl[0], voice, binary))
                os.replace(tmp, wav)  # atomic: a killed run never leaves half a file
            items.append(SpeechItem(f"{c}/{stem}", c, cl[0], wav, item=stem))
        by_lang[c] = items
    return by_lang


@register_loader("speech_probe")
def load_speech_probe(path: Path, name: str = "speech_probe", languages=None, limit=None, with_audio=True,
                      cache: str | None = None):
    path = Path(path)
    if not path.is_file():
        raise MmxError(f"{name}: probe captions not found: {path}")
    with_audio = str(with_audio).lower() not in ("false", "0", "no")
    if with_audio:
        out = probe_dir(path, Path(cache) if cache else None)
        by_lang = synthesize_probe(path, out, languages, limit)
        source = out
    else:  # text only (the TTS task): no espeak-ng needed
        obj = json.loads(read_text(path, name))
        by_lang = {}
        for code, caps in obj["captions"].items():
            c = normalize_code(code, path)
            by_lang[c] = [SpeechItem(f"{c}/{Path(img).stem}", c, cl[0], None, item=Path(img).stem)
                          for img, cl in zip(obj["images"], caps)]
        source = path
    return _finish(name, source, by_lang, {}, languages, limit, path.read_bytes())
