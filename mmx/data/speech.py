"""Speech data: FLEURS, Common Voice and IndicVoices-R from the Hugging Face Hub, a JSONL manifest, and
mmx's espeak-ng probe set.

Every loader returns SpeechData: per mmx language code, the items (id, reference text, audio path).
Audio is not decoded here (a bad sample is an error of that sample when the task loads it, ``--on-error``);
audio that a Hub set holds as bytes is written once to the cache folder (``hub_audio_dir``) and its header
checked, so a row whose audio will not decode is named at load time.

Hub sources (``source``: a Hub id, or a local folder holding the repository's files in the Hub's layout;
omitted: the data catalogue's id and revision; read through mmx.data.hub):
  fleurs         google/fleurs's Parquet export (branch refs/convert/parquet: the main branch holds a loading
                 script, which datasets >= 4 refuses): <config>/<split>/NNNN.parquet, configs like de_de,
                 cmn_hans_cn; columns id (the sentence id, shared across languages), audio {bytes, path} (WAV,
                 16 kHz), transcription (normalised), raw_transcription, num_samples, gender, lang_id ...
  common_voice   Common Voice's Hub layout (mozilla-foundation/common_voice_*): transcript/<locale>/<split>.tsv
                 (header row; columns path, sentence, ...), audio/<locale>/<split>/<locale>_<split>_<n>.tar of
                 MP3 clips, n_shards.json. Read with huggingface_hub (datasets has no builder for it); with
                 ``limit`` the tars are streamed and left as soon as the clips needed are out.
  indicvoices_r  ai4bharat/indicvoices_r (gated, CC BY 4.0): <Language>/<split>-NNNNN-of-NNNNN.parquet, configs
                 named by language (Hindi, Tamil ...); columns text (normalised), verbatim, audio {bytes, path},
                 speaker_id, duration ... Texts for the TTS task, the recordings for its duration ratio.

Local layouts (``path``, kept for sets already extracted by hand):
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


def _fleurs_local(path: Path, name: str, languages, limit, split: str, text: str) -> SpeechData:
    root = Path(path)
    if not root.is_dir():
        raise MmxError(f"{name}: FLEURS folder not found: {root} (expected ROOT/<lang>/{split}.tsv, e.g. de_de/)")
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


def _common_voice_local(path: Path, name: str, languages, limit, split: str) -> SpeechData:
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


# --- Hub sources -----------------------------------------------------------------------------------------

PARQUET_EXPORT = "refs/convert/parquet"  # the Hub's Parquet export branch (google/fleurs's main is a script)

# google/fleurs's 102 configs (its loading script, _FLEURS_LANG): the Parquet export has one folder per config
FLEURS_CONFIGS = (
    "af_za am_et ar_eg as_in ast_es az_az be_by bg_bg bn_in bs_ba ca_es ceb_ph ckb_iq cmn_hans_cn cs_cz cy_gb "
    "da_dk de_de el_gr en_us es_419 et_ee fa_ir ff_sn fi_fi fil_ph fr_fr ga_ie gl_es gu_in ha_ng he_il hi_in "
    "hr_hr hu_hu hy_am id_id ig_ng is_is it_it ja_jp jv_id ka_ge kam_ke kea_cv kk_kz km_kh kn_in ko_kr ky_kg "
    "lb_lu lg_ug ln_cd lo_la lt_lt luo_ke lv_lv mi_nz mk_mk ml_in mn_mn mr_in ms_my mt_mt my_mm nb_no ne_np "
    "nl_nl nso_za ny_mw oc_fr om_et or_in pa_in pl_pl ps_af pt_br ro_ro ru_ru sd_in sk_sk sl_si sn_zw so_so "
    "sr_rs sv_se sw_ke ta_in te_in tg_tj th_th tr_tr uk_ua umb_ao ur_pk uz_uz vi_vn wo_sn xh_za yo_ng "
    "yue_hant_hk zu_za").split()

# ai4bharat/indicvoices_r's configs (folders), by mmx code. Bodo, Dogri, Konkani and Manipuri are in the set
# too but not in mmx's language table (mmx/languages.tsv) yet, so they cannot be asked for.
INDICVOICES_R_CONFIGS = {
    "as": "Assamese", "bn": "Bengali", "gu": "Gujarati", "hi": "Hindi", "kn": "Kannada", "ks": "Kashmiri",
    "mai": "Maithili", "ml": "Malayalam", "mr": "Marathi", "ne": "Nepali", "or": "Odia", "pa": "Punjabi",
    "sa": "Sanskrit", "sat": "Santali", "sd": "Sindhi", "ta": "Tamil", "te": "Telugu", "ur": "Urdu"}

# first bytes -> file suffix, so the cached file says what it is (libsndfile sniffs the content anyway)
_MAGIC = ((b"RIFF", ".wav"), (b"fLaC", ".flac"), (b"OggS", ".ogg"), (b"ID3", ".mp3"), (b"\xff\xfb", ".mp3"),
          (b"\xff\xf3", ".mp3"), (b"\xff\xf2", ".mp3"))


def _source(benchmark: str, source: str | None, revision: str | None) -> tuple[str, str | None]:
    """(Hub id or local folder, revision): a local folder as given, else the catalogue's id and revision (the
    ``revision`` key, when given, wins)."""
    from mmx.data import hub
    from mmx.data.catalog import hub_id_and_revision

    if source and hub.is_local(source):
        return str(Path(source).expanduser().resolve()), None
    if source and (source.count("/") != 1 or source.startswith((".", "/", "~"))):
        raise MmxError(f"{benchmark}: source {source!r} is neither a folder nor a Hub dataset id (owner/name)")
    src, rev = hub_id_and_revision(benchmark, source)
    return src, revision or rev


def hub_audio_dir(benchmark: str, resolved: str, *parts: str) -> Path:
    """Where a Hub set's audio is written once: the cache root / hub-audio / benchmark / the resolved revision."""
    from mmx.cache import content_key, default_cache_dir

    return default_cache_dir() / "hub-audio" / benchmark / content_key(resolved)[:16] / Path(*parts)


def _check_audio(path: Path, where: str) -> None:
    import soundfile as sf

    try:
        sf.info(str(path))
    except Exception as e:  # LibsndfileError / RuntimeError with libsndfile's message
        raise MmxError(f"{where}: the audio does not decode ({e}); the data is corrupt or not an audio format "
                       "libsndfile reads (WAV, FLAC, OGG, MP3)") from None


def _write_audio(folder: Path, stem: str, data, where: str) -> Path:
    """Write a row's audio bytes once (named by their content: a changed file never reuses a stale copy)."""
    import os

    from mmx.cache import content_key

    if not isinstance(data, (bytes, bytearray)) or not data:
        raise MmxError(f"{where}: the row holds no audio bytes ({type(data).__name__}); the audio column must be "
                       "{bytes, path} with the encoded file")
    suffix = next((s for magic, s in _MAGIC if data.startswith(magic)), Path(stem).suffix or ".audio")
    out = folder / f"{Path(stem).stem}.{content_key(bytes(data))[:12]}{suffix}"
    if not out.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + f".tmp{os.getpid()}")
        tmp.write_bytes(data)
        try:
            _check_audio(tmp, where)
        except MmxError:
            tmp.unlink()
            raise
        os.replace(tmp, out)  # atomic: a killed run never leaves half a file
    return out


def _audio_of(row: dict, where: str) -> tuple[bytes, str]:
    a = row.get("audio")
    if isinstance(a, dict):
        return a.get("bytes"), str(a.get("path") or "")
    if isinstance(a, (bytes, bytearray)):
        return bytes(a), ""
    raise MmxError(f"{where}: the audio column holds {type(a).__name__}, expected {{bytes, path}}")


def _parquet_rows(benchmark: str, src: str, rev: str | None, split: str, config: str, pattern: str,
                  columns: tuple[str, ...], limit: int | None):
    """(row number, row) of one config's Parquet files, audio left as bytes (datasets' Audio decoding needs
    torchcodec; mmx decodes with soundfile), streamed when ``limit`` is set."""
    import datasets

    from mmx.data import hub

    try:
        ds = hub.load(src, benchmark=benchmark, split=split, revision=rev, data_files={split: pattern},
                      streaming=limit is not None)
    except RuntimeError as e:  # datasets >= 4 on a revision that holds a loading script
        if "scripts are no longer supported" not in str(e):
            raise
        raise MmxError(f"{benchmark} ({src}@{rev or 'main'}): {e}; read its Parquet files instead (for google/"
                       f"fleurs the export: revision={PARQUET_EXPORT}, the default)") from e
    names = list(getattr(ds, "column_names", None) or [])
    if "audio" in names:
        ds = ds.cast_column("audio", datasets.Audio(decode=False))
    return hub.rows(ds, benchmark=benchmark, where=f"{src}, {config}, split {split}", columns=columns, limit=limit)


def _fleurs_hub(source, name, languages, limit, split, text, revision, with_audio) -> SpeechData:
    from mmx.data import hub

    src, rev = _source("fleurs", source, revision)
    split = {"dev": "validation"}.get(split, split)  # the export names FLEURS's dev split "validation"
    local = hub.is_local(src)
    rev = rev or (None if local else PARQUET_EXPORT)
    resolved = hub.resolved_revision(src, rev)
    if local:
        configs = sorted(p.parent.name for p in Path(src).glob(f"*/{split}") if p.is_dir())
        if not configs:
            raise MmxError(f"{name}: no <config>/{split}/*.parquet under {src}; point it at a download of "
                           f"google/fleurs's Parquet export (revision {PARQUET_EXPORT})")
    else:
        configs = list(FLEURS_CONFIGS)
    by_code = {}
    for cfg in configs:
        try:
            by_code.setdefault(normalize_code(cfg), cfg)
        except MmxError:
            continue  # a folder that is not a language
    want = _wanted(f"{name}: FLEURS", by_code, languages, f"in {src}")
    col = "raw_transcription" if text == "raw" else "transcription"

    def item(c, i, row, data, apath, folder, where):
        fname = Path(apath or str(row.get("path") or "")).name or f"{row['id']}-{i}.wav"
        audio = _write_audio(folder, fname, data, where) if with_audio else None
        return SpeechItem(f"{c}/{fname}", c, str(row[col] or ""), audio, item=str(row["id"]))

    by_lang = _parquet_speech("fleurs", src, rev, resolved, split, {c: by_code[c] for c in want},
                              "{cfg}/{split}/*.parquet", ("id", "audio", col), limit, item)
    extra = f"fleurs-hub:{resolved}:{split}:{text}:{limit}:{','.join(want)}".encode()
    return _finish(name, f"{src}@{rev}" if rev else src, by_lang, {c: by_code[c] for c in want}, None, limit, extra)


def _wanted(what: str, have: dict[str, str], languages, where: str) -> list[str]:
    """The language codes asked for (all by default), each one the set has."""
    want = list(have) if languages is None else [normalize_code(x) for x in languages]
    missing = [c for c in want if c not in have]
    if missing:
        raise MmxError(f"{what} has no language {', '.join(missing)} {where}; it has "
                       f"{', '.join(sorted(have)) or 'none'}")
    return want


def _parquet_speech(benchmark: str, src: str, rev: str | None, resolved: str, split: str, configs: dict[str, str],
                    pattern: str, columns: tuple[str, ...], limit, item) -> dict[str, list[SpeechItem]]:
    """language -> items of a Hub set with one Parquet config per language (FLEURS, IndicVoices-R):
    ``item(code, row number, row, audio bytes, audio path, audio folder, where)`` makes each SpeechItem."""
    by_lang: dict[str, list[SpeechItem]] = {}
    for c, cfg in configs.items():
        folder = hub_audio_dir(benchmark, resolved, cfg, split)
        items = []
        for i, row in _parquet_rows(benchmark, src, rev, split, cfg, pattern.format(cfg=cfg, split=split), columns,
                                    limit):
            where = f"{benchmark} ({src}, {cfg}, split {split}), row {i}"
            data, apath = _audio_of(row, where)
            items.append(item(c, i, row, data, apath, folder, where))
        _unique(items, f"{benchmark} ({src}, {cfg})")
        by_lang[c] = items
    return by_lang


def _unique(items: list[SpeechItem], where: str) -> None:
    seen: set[str] = set()
    for it in items:
        if it.id in seen:
            raise MmxError(f"{where}: two rows give the sample id {it.id!r}; the set's file names must be unique")
        seen.add(it.id)


@register_loader("fleurs")
def load_fleurs(path: Path | None = None, source: str | None = None, name: str = "fleurs", languages=None,
                limit=None, split: str = "test", text: str = "raw", revision: str | None = None,
                with_audio=True):
    """FLEURS from the Hub (``source``; default google/fleurs's Parquet export) or an extracted ``path``."""
    if text not in ("raw", "normalized"):
        raise MmxError(f"{name}: text={text!r}: use raw or normalized")
    if path is not None and source is not None:
        raise MmxError(f"{name}: give either path (an extracted FLEURS data/ folder) or source (the Hub or a "
                       "local copy of its Parquet export), not both")
    if path is not None:
        return _fleurs_local(path, name, languages, limit, split, text)
    return _fleurs_hub(source, name, languages, limit, split, text, revision,
                       str(with_audio).lower() not in ("false", "0", "no"))


# --- Common Voice on the Hub: TSV transcripts + MP3 tars --------------------------------------------------

CV_MOVED = ("Mozilla took Common Voice off the Hugging Face Hub in October 2025 (mozilla-foundation/common_voice_* "
            "hold no data files since); get it from the Mozilla Data Collective (https://datacollective."
            "mozillafoundation.org), extract it and pass path=<cv-corpus-*/ folder>, or pass source= a Hub copy "
            "in the same layout")


class _Repo:
    """A Hub dataset repository or a local folder with its files: open one file, list a folder."""

    def __init__(self, benchmark: str, src: str, rev: str | None):
        from mmx.data import hub

        self.benchmark, self.src, self.rev, self.local = benchmark, src, rev, hub.is_local(src)

    def path(self, filename: str) -> Path:
        """The file on disk: in the local folder, or downloaded into the Hugging Face cache (resumable)."""
        import os

        if self.local:
            p = Path(self.src) / filename
            if not p.is_file():
                raise MmxError(f"{self.benchmark}: {p} not found (the Hub layout has {filename})")
            return p
        from huggingface_hub import errors, hf_hub_download

        from mmx.data import hub

        where = f"{self.benchmark} ({self.src}, {filename})"
        try:
            return Path(hf_hub_download(self.src, filename, repo_type="dataset", revision=self.rev,
                                        token=os.environ.get("HF_TOKEN") or None))
        except errors.GatedRepoError as e:
            raise MmxError(f"{where}: the dataset is gated. Accept its terms at https://huggingface.co/datasets/"
                           f"{self.src} while logged in, then set HF_TOKEN to a token of that account") from e
        except errors.RepositoryNotFoundError as e:
            raise MmxError(f"{where}: no such dataset on the Hub, or no access (set HF_TOKEN)") from e
        except errors.EntryNotFoundError as e:
            hint = CV_MOVED if self.benchmark == "common_voice" else "is this the right dataset and revision?"
            raise MmxError(f"{where}: the repository has no such file; {hint}") from e
        except (errors.LocalEntryNotFoundError, OSError) as e:
            if hub.offline():
                raise MmxError(f"{where}: not in the local cache and HF_HUB_OFFLINE is set; fetch it once with "
                               f"`mmx data download {self.benchmark}`") from e
            raise MmxError(f"{where}: cannot reach the Hub ({type(e).__name__}: {e})") from e

    def stream(self, filename: str):
        """A file object read as it is consumed: only what is read is fetched (HfFileSystem's ranged reads)."""
        import os

        if self.local:
            return open(self.path(filename), "rb")
        from huggingface_hub import HfFileSystem

        rev = f"@{self.rev.replace('/', '%2F')}" if self.rev else ""
        try:
            return HfFileSystem(token=os.environ.get("HF_TOKEN") or None).open(
                f"datasets/{self.src}{rev}/{filename}", "rb")
        except Exception:  # no network, gated, ...: the download path says why
            return open(self.path(filename), "rb")


def _cv_locales(repo: _Repo, split: str) -> dict[str, int]:
    """locale -> number of audio tars of ``split`` (n_shards.json; a local copy without it: the tars present)."""
    if not repo.local or (Path(repo.src) / "n_shards.json").is_file():
        try:
            shards = json.loads(read_text(repo.path("n_shards.json"), repo.benchmark))
        except json.JSONDecodeError as e:
            raise MmxError(f"{repo.benchmark} ({repo.src}): n_shards.json is not valid JSON ({e})") from e
        return {loc: int(n.get(split, 0)) for loc, n in shards.items() if isinstance(n, dict)}
    root = Path(repo.src)
    return {d.name: len(list((root / "audio" / d.name / split).glob("*.tar")))
            for d in sorted((root / "transcript").glob("*")) if (d / f"{split}.tsv").is_file()}


def _cv_pick(locales: dict[str, int], languages, name: str, src: str) -> dict[str, str]:
    """mmx code -> Common Voice locale for the languages asked for (a locale itself, e.g. zh-TW, also works)."""
    by_code: dict[str, list[str]] = {}
    for loc in locales:
        try:
            by_code.setdefault(normalize_code(loc), []).append(loc)
        except MmxError:
            continue
    if languages is None:
        return {c: locs[0] for c, locs in by_code.items() if len(locs) == 1}
    out = {}
    for x in languages:
        if x in locales:
            out[normalize_code(x)] = x
            continue
        c = normalize_code(x)
        locs = by_code.get(c, [])
        if not locs:
            raise MmxError(f"{name}: Common Voice has no language {x!r} in {src}; it has "
                           f"{', '.join(sorted(locales)[:40])}{' ...' if len(locales) > 40 else ''}")
        if len(locs) > 1:
            raise MmxError(f"{name}: {x!r} is {', '.join(locs)} in Common Voice; name one (--languages {locs[0]})")
        out[c] = locs[0]
    return out


def _cv_clips(repo: _Repo, loc: str, split: str, shards: int, need: dict[str, int], folder: Path,
              stream: bool) -> None:
    """Extract the clips named in ``need`` (file name -> TSV row) from the split's tars into ``folder``,
    stopping as soon as all are out; a clip in no tar is an error naming its TSV row."""
    import os
    import tarfile

    todo = {n: r for n, r in need.items() if not (folder / n).is_file()}
    for k in range(shards):
        if not todo:
            return
        name = f"audio/{loc}/{split}/{loc}_{split}_{k}.tar"
        with (repo.stream(name) if stream else open(repo.path(name), "rb")) as f:
            try:
                with tarfile.open(fileobj=f, mode="r|*") as tar:
                    for m in tar:
                        clip = Path(m.name).name
                        if not m.isfile() or clip not in todo:
                            continue
                        data = tar.extractfile(m).read()
                        folder.mkdir(parents=True, exist_ok=True)
                        tmp = folder / f"{clip}.tmp{os.getpid()}"
                        tmp.write_bytes(data)
                        os.replace(tmp, folder / clip)
                        del todo[clip]
                        if not todo:
                            break
            except tarfile.TarError as e:
                raise MmxError(f"common_voice ({repo.src}, {name}): not a readable tar ({e})") from e
    if todo:
        clip, row = min(todo.items(), key=lambda kv: kv[1])
        raise MmxError(f"common_voice ({repo.src}, transcript/{loc}/{split}.tsv), row {row}: clip {clip} is in "
                       f"none of the {shards} audio tar(s) of {loc}/{split}")


def _common_voice_hub(source, name, languages, limit, split, revision) -> SpeechData:
    from mmx.data import hub

    src, rev = _source("common_voice", source, revision)
    repo = _Repo("common_voice", src, rev)
    resolved = hub.resolved_revision(src, rev)
    locales = _cv_locales(repo, split)
    pick = _cv_pick(locales, languages, name, src)
    by_lang: dict[str, list[SpeechItem]] = {}
    for c, loc in pick.items():
        tsv = repo.path(f"transcript/{loc}/{split}.tsv")
        with io.StringIO(read_text(tsv, name), newline="") as f:
            rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
        where = f"common_voice ({src}, transcript/{loc}/{split}.tsv)"
        if rows and not {"path", "sentence"} <= set(rows[0]):
            raise MmxError(f"{where}: a Common Voice TSV needs the columns path and sentence; it has "
                           f"{', '.join(rows[0])}")
        rows = rows[:limit] if limit is not None else rows
        # a local copy's tars are part of what the clips are; the Hub's are fixed by the revision
        key = resolved if not repo.local else resolved + str(sorted(
            (p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in (Path(src) / "audio" / loc).glob("*/*.tar")))
        folder = hub_audio_dir("common_voice", key, loc, split)
        clips = {}
        for n, r in enumerate(rows, 2):  # row 1 is the header
            p = r["path"] if r["path"].endswith(".mp3") else r["path"] + ".mp3"
            clips[p] = n
        _cv_clips(repo, loc, split, locales.get(loc, 0), clips, folder,
                  stream=limit is not None and not hub.offline())
        items = [SpeechItem(f"{c}/{p}", c, r["sentence"], folder / p) for p, r in zip(clips, rows)]
        for it, n in zip(items, clips.values()):
            _check_audio(it.audio, f"{where}, row {n} ({it.audio})")
        by_lang[c] = items
    extra = f"cv-hub:{resolved}:{split}:{limit}:{','.join(pick.values())}".encode()
    return _finish(name, f"{src}@{rev}" if rev else src, by_lang, dict(pick), None, limit, extra)


@register_loader("common_voice")
def load_common_voice(path: Path | None = None, source: str | None = None, name: str = "common_voice",
                      languages=None, limit=None, split: str = "test", revision: str | None = None):
    """Common Voice from the Hub layout (``source``) or an extracted cv-corpus folder (``path``)."""
    if path is not None and source is not None:
        raise MmxError(f"{name}: give either path (an extracted cv-corpus-*/ folder) or source (a Hub id or a "
                       "local copy of the Hub layout), not both")
    if path is not None:
        return _common_voice_local(path, name, languages, limit, split)
    return _common_voice_hub(source, name, languages, limit, split, revision)


# --- IndicVoices-R: TTS texts and the recordings of them ----------------------------------------------------

@register_loader("indicvoices_r")
def load_indicvoices_r(source: str | None = None, name: str = "indicvoices_r", languages=None, limit=None,
                       split: str = "test", text: str = "text", revision: str | None = None):
    """IndicVoices-R (Sankar et al. 2024): per language, the transcripts (the TTS task's input texts) and the
    recordings of them (its duration ratio), from ai4bharat/indicvoices_r's Parquet files."""
    from mmx.data import hub

    if text not in ("text", "verbatim", "normalized"):
        raise MmxError(f"{name}: text={text!r}: use text (normalised), verbatim or normalized")
    src, rev = _source("indicvoices_r", source, revision)
    resolved = hub.resolved_revision(src, rev)
    have = dict(INDICVOICES_R_CONFIGS)
    if hub.is_local(src):  # the languages a local copy holds
        have = {c: cfg for c, cfg in have.items() if list(Path(src).glob(f"{cfg}/{split}-*.parquet"))}
    want = _wanted(f"{name}: IndicVoices-R", have, languages, f"(split {split}) in {src}")

    def item(c, i, row, data, apath, folder, where):
        audio = _write_audio(folder, Path(apath).name or f"{split}-{i:06d}.wav", data, where)
        sid = f"{c}/{Path(apath).stem}" if apath else f"{c}/{split}-{i:06d}"
        return SpeechItem(sid, c, str(row[text] or ""), audio)

    by_lang = _parquet_speech("indicvoices_r", src, rev, resolved, split, {c: have[c] for c in want},
                              "{cfg}/{split}-*.parquet", ("audio", text), limit, item)
    extra = f"ivr-hub:{resolved}:{split}:{text}:{limit}:{','.join(want)}".encode()
    return _finish(name, f"{src}@{rev}" if rev else src, by_lang, {c: have[c] for c in want}, None, limit, extra)


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
