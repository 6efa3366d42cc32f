"""Offline copies of the speech sets' Hub repositories, a few rows each, in the exact form the Hub holds them.

- google/fleurs, its Parquet export (branch refs/convert/parquet): <config>/<split>/0000.parquet with the
  columns of the FLEURS loading script's features (id int32, num_samples int32, path, audio {bytes, path}
  holding the 16 kHz WAV file, transcription, raw_transcription, gender / lang_id / lang_group_id as class
  label integers, language) and the datasets features in the Parquet schema's "huggingface" metadata.
- mozilla-foundation/common_voice_*: n_shards.json, transcript/<locale>/<split>.tsv (Common Voice's TSV with its
  header), audio/<locale>/<split>/<locale>_<split>_<n>.tar holding <locale>_<split>_<n>/<clip>.mp3.
- ai4bharat/indicvoices_r: <Language>/<split>-00000-of-00001.parquet with the manifest's columns (text,
  verbatim, normalized, speaker_id, duration, ...) and audio {bytes, path}.

Each writer returns the folder: the loaders read it with ``source=<folder>`` through the same datasets /
huggingface_hub code path as the Hub.
"""
from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import soundfile as sf


def tone(seconds: float = 0.5, rate: int = 16000, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def audio_bytes(seconds: float = 0.5, rate: int = 16000, fmt: str = "WAV") -> bytes:
    buf = io.BytesIO()
    sf.write(buf, tone(seconds, rate), rate, format=fmt)
    return buf.getvalue()


AUDIO_TYPE = pa.struct([("bytes", pa.binary()), ("path", pa.string())])


def _write_parquet(path: Path, columns: dict, types: dict, features: dict) -> None:
    schema = pa.schema([(k, types[k]) for k in columns],
                       metadata={"huggingface": json.dumps({"info": {"features": features}})})
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns, schema=schema), path)


# --- FLEURS ----------------------------------------------------------------------------------------------

FLEURS_FEATURES = {
    "id": {"dtype": "int32", "_type": "Value"}, "num_samples": {"dtype": "int32", "_type": "Value"},
    "path": {"dtype": "string", "_type": "Value"}, "audio": {"sampling_rate": 16000, "_type": "Audio"},
    "transcription": {"dtype": "string", "_type": "Value"}, "raw_transcription": {"dtype": "string", "_type": "Value"},
    "gender": {"names": ["male", "female", "other"], "_type": "ClassLabel"},
    "lang_id": {"names": ["af_za", "de_de", "en_us"], "_type": "ClassLabel"},  # the real list has 102 + "all"
    "language": {"dtype": "string", "_type": "Value"},
    "lang_group_id": {"names": ["western_european_we", "south_asian_sa"], "_type": "ClassLabel"}}
FLEURS_TYPES = {"id": pa.int32(), "num_samples": pa.int32(), "path": pa.string(), "audio": AUDIO_TYPE,
                "transcription": pa.string(), "raw_transcription": pa.string(), "gender": pa.int64(),
                "lang_id": pa.int64(), "language": pa.string(), "lang_group_id": pa.int64()}

# config -> [(sentence id, file name, raw transcription, transcription)]; repeated ids: several speakers
FLEURS_ROWS = {
    "de_de": [(1660, "10004088536354799741.wav", "Ein grünes Dreieck, oben.", "ein grünes dreieck oben"),
              (1660, "1000551394564416281.wav", "Ein grünes Dreieck, oben.", "ein grünes dreieck oben"),
              (1661, "10008534466823370830.wav", "Zwei blaue Kreise.", "zwei blaue kreise")],
    "en_us": [(1660, "555.wav", "One green triangle, at the top.", "one green triangle at the top"),
              (1661, "556.wav", "Two blue circles.", "two blue circles")],
}


def write_fleurs(root: Path, rows: dict | None = None, split: str = "test", drop: str | None = None,
                 bad_audio_row: int | None = None) -> Path:
    """google/fleurs@refs/convert/parquet: ROOT/<config>/<split>/0000.parquet."""
    for cfg, rs in (rows or FLEURS_ROWS).items():
        n = len(rs)
        cols = {
            "id": [r[0] for r in rs], "num_samples": [8000] * n,
            # the exporter's worker paths (the extracted archive) and the tar member names
            "path": [f"/cache/extracted/abc/{r[1]}" for r in rs],
            "audio": [{"bytes": b"not audio" if j == bad_audio_row else audio_bytes(0.5 + 0.25 * j),
                       "path": f"{split}/{r[1]}"} for j, r in enumerate(rs)],
            "transcription": [r[3] for r in rs], "raw_transcription": [r[2] for r in rs],
            "gender": [1] * n, "lang_id": [1] * n, "language": [cfg] * n, "lang_group_id": [0] * n}
        if drop:
            cols.pop(drop)
        _write_parquet(root / cfg / split / "0000.parquet", cols, FLEURS_TYPES, FLEURS_FEATURES)
    return root


# --- Common Voice ----------------------------------------------------------------------------------------

CV_HEADER = ["client_id", "path", "sentence_id", "sentence", "sentence_domain", "up_votes", "down_votes", "age",
             "gender", "accents", "variant", "locale", "segment"]


def write_common_voice(root: Path, locales: dict[str, list[str]] | None = None, split: str = "test",
                       shard_size: int = 2, missing_clip: int | None = None) -> Path:
    """mozilla-foundation/common_voice_17_0's layout: n_shards.json, transcript/, audio/ tars of MP3 clips."""
    locales = locales or {"sv-SE": ["Hej värld 0", "Hej värld 1", "Hej värld 2"], "de": ["Guten Tag"]}
    shards = {}
    for loc, sentences in locales.items():
        clips = [f"common_voice_{loc}_{4000 + i}.mp3" for i in range(len(sentences))]
        lines = ["\t".join(CV_HEADER)] + [
            "\t".join(["c0ffee", clip, f"s{i}", s, "", "2", "0", "", "", "", "", loc, ""])
            for i, (clip, s) in enumerate(zip(clips, sentences))]
        tsv = root / "transcript" / loc / f"{split}.tsv"
        tsv.parent.mkdir(parents=True, exist_ok=True)
        tsv.write_text("\n".join(lines) + "\n", encoding="utf-8")
        # clips in reverse order across the tars: the loader must find them, not assume TSV order
        stored = [c for i, c in enumerate(clips) if i != missing_clip][::-1]
        n = max(1, -(-len(stored) // shard_size))
        for k in range(n):
            member_dir = f"{loc}_{split}_{k}"
            tar_path = root / "audio" / loc / split / f"{member_dir}.tar"
            tar_path.parent.mkdir(parents=True, exist_ok=True)
            with tarfile.open(tar_path, "w") as tar:
                for j, clip in enumerate(stored[k * shard_size:(k + 1) * shard_size]):
                    data = audio_bytes(0.5 + 0.1 * j, 48000, "MP3")  # Common Voice clips: 48 kHz MP3
                    info = tarfile.TarInfo(f"{member_dir}/{clip}")
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
        shards[loc] = {"train": 0, "dev": 0, split: n, "other": 0, "invalidated": 0}
    (root / "n_shards.json").write_text(json.dumps(shards, indent=2), encoding="utf-8")
    return root


# --- IndicVoices-R ---------------------------------------------------------------------------------------

IVR_COLUMNS = ("text", "lang", "samples", "verbatim", "normalized", "speaker_id", "scenario", "task_name",
               "gender", "age_group", "job_type", "qualification", "area", "district", "state", "occupation",
               "verification_report", "duration", "snr", "audio")
IVR_TYPES = {**{k: pa.string() for k in IVR_COLUMNS}, "samples": pa.int64(), "duration": pa.float64(),
             "snr": pa.float64(), "audio": AUDIO_TYPE}
IVR_FEATURES = {k: ({"sampling_rate": 48000, "_type": "Audio"} if k == "audio" else
                    {"dtype": {"samples": "int64", "duration": "float64", "snr": "float64"}.get(k, "string"),
                     "_type": "Value"}) for k in IVR_COLUMNS}

# config -> [(normalised text, verbatim, speaker, seconds)]
IVR_ROWS = {
    "Hindi": [("नमस्ते दुनिया", "नमस्ते दुनिया [noise]", "S1001", 1.0),
              ("आज मौसम अच्छा है", "आज मौसम अच्छा है", "S1002", 1.5),
              ("धन्यवाद", "धन्यवाद", "S1001", 0.5)],
    "Tamil": [("வணக்கம்", "வணக்கம்", "S2001", 0.8)],
}


def write_indicvoices_r(root: Path, rows: dict | None = None, split: str = "test", drop: str | None = None,
                        bad_audio_row: int | None = None) -> Path:
    """ai4bharat/indicvoices_r: ROOT/<Language>/<split>-00000-of-00001.parquet."""
    for cfg, rs in (rows or IVR_ROWS).items():
        n = len(rs)
        base = {k: [""] * n for k in IVR_COLUMNS}
        cols = {**base, "text": [r[0] for r in rs], "normalized": [r[0] for r in rs], "verbatim": [r[1] for r in rs],
                "speaker_id": [r[2] for r in rs], "duration": [r[3] for r in rs], "snr": [30.0] * n,
                "samples": [int(r[3] * 48000) for r in rs], "lang": [cfg[:2].lower()] * n, "scenario": ["Read"] * n,
                "audio": [{"bytes": b"\x00" * 64 if j == bad_audio_row else audio_bytes(r[3], 48000),
                           "path": f"{r[2]}_{cfg}_{j:04d}.wav"} for j, r in enumerate(rs)]}
        if drop:
            cols.pop(drop)
        _write_parquet(root / cfg / f"{split}-00000-of-00001.parquet", cols, IVR_TYPES, IVR_FEATURES)
    return root
