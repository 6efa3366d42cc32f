"""espeak-ng (https://github.com/espeak-ng/espeak-ng) from Python: find the binary, its version, the voice for
an mmx language, and one text spoken to WAV bytes.

Used by both sides of the house: the speech_probe loader (mmx/data/speech.py) speaks the probe captions
with it, and the ``espeak-ng`` TTS family (mmx/models/speech.py) is a baseline synthesiser. It calls the
command-line program (``--stdout`` writes a RIFF WAV), as espeak-ng's own docs describe, rather than a
binding: the Debian package is all it needs.
"""
from __future__ import annotations

import shutil
import subprocess
from functools import lru_cache

from mmx.errors import MmxError

ESPEAK_SPECIAL = {"zh": "cmn"}  # espeak-ng names Mandarin by its ISO 639-3 code


def espeak_binary(name: str = "espeak-ng") -> str:
    found = shutil.which(name if name not in ("", "default") else "espeak-ng")
    if not found:
        raise MmxError("espeak-ng is not installed: apt-get install espeak-ng (Debian/Ubuntu), "
                       "brew install espeak-ng (macOS)")
    return found


def espeak_version(binary: str = "espeak-ng") -> str:
    return subprocess.run([binary, "--version"], capture_output=True, text=True, check=True).stdout.strip()


@lru_cache(maxsize=4)
def espeak_voices(binary: str = "espeak-ng") -> frozenset[str]:
    out = subprocess.run([binary, "--voices"], capture_output=True, text=True, check=True).stdout
    return frozenset(line.split()[1] for line in out.splitlines()[1:] if len(line.split()) > 1)


def espeak_voice(language: str, binary: str = "espeak-ng") -> str:
    """The espeak-ng voice for an mmx language (its code, its ISO 639-3 code, or a regional voice of it)."""
    from mmx.languages import get_language

    lang = get_language(language)
    voices = espeak_voices(binary)
    for cand in (ESPEAK_SPECIAL.get(lang.code), lang.code, lang.iso639_1, lang.iso639_3):
        if cand and (cand in voices or any(v.startswith(cand + "-") for v in voices)):
            return cand
    raise MmxError(f"espeak-ng has no voice for {language} ({lang.name}); `espeak-ng --voices` lists them")


def espeak_wav(text: str, voice: str, binary: str = "espeak-ng", speed: int | None = None) -> bytes:
    """``text`` spoken by ``voice`` (at ``speed`` words per minute; espeak's default 175) as WAV bytes."""
    cmd = [binary, "-v", voice, "--stdout", *(["-s", str(speed)] if speed else []), "--", text]
    res = subprocess.run(cmd, capture_output=True, timeout=120)
    if res.returncode != 0:
        raise MmxError(f"espeak-ng failed on {text[:60]!r} (voice {voice}): {res.stderr.decode(errors='replace')}")
    return res.stdout
