"""Tokenizer parity and truncation: how many tokens a model's tokenizer spends on the same content per language.

Follows the tokenisation-parity studies (Petrov et al. 2023, "Language Model Tokenizers Introduce Unfairness
Between Languages"; Rust et al. 2021): on *parallel* text (the same items in every language) a language's
**premium** is its token count divided by English's on the items both have; a premium of 2 means the model
reads (and pays for) twice as many tokens for the same content, and meets its context limit twice as soon.
Per language also **tokens per character** (Unicode code points) and **tokens per word** (whitespace-split
words; left out for languages written without spaces between words, ``mmx.languages`` ``uses_spaces``, where
a "word" would be a whole sentence: per character only there).

**Truncation**: a model with a context limit (CLIP's 77 tokens, XLM-R's 512) silently cuts longer texts, a
measurement error that falls on the languages its tokenizer spends more tokens on. ``Tokenizer.truncated``
says whether a text was cut; the retrieval and zero-shot task kinds flag each sample with the score
``truncated`` (0/1), so the share per language aggregates with its Wilson CI like any metric.

Parallel texts (``--text``): ``probe`` (assets/probe/captions.json, 15 languages, always there), ``xtd10``
(XTD10's captions, 11 languages: $MMX_XTD10 or ../shared/data/babel-imagenet/xtd.json), ``humaneval-xl`` (the
HumanEval-XL Python prompts in 23 languages, taken as they are: code, docstring and doctests, since that is
what a model reads; $MMX_HUMANEVAL_XL or ../shared/data/humaneval-xl), or a file: a JSON ``{lang: [item, ...]}``
or ``{"captions": {lang: [...]}}`` whose items (a string, or a list of strings) are aligned by position.

Adapters expose their tokenizer without loading weights through a static ``load_tokenizer(name, **args)``
returning a ``Tokenizer`` (hf-clip, open_clip, mclip, hf-causal incl. GGUF, hf-whisper, hf-vlm).
"""
from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, List, Optional

import typer

from mmx.errors import MmxError

REFERENCE = "en"
ROOT = Path(__file__).resolve().parents[2]
TEXTS = ("probe", "xtd10", "humaneval-xl")
NOTES = {
    "words": "tokens per word: whitespace-split words; null for languages written without spaces between words "
             "(per character only there)",
    "premium": "premium: the language's tokens / English tokens on the parallel items both have (1 = parity), "
               "95% CI: percentile bootstrap over those items",
    "truncated": "truncated: share of texts longer than the model's context limit (special tokens included), "
                 "Wilson 95% CI",
    "humaneval-xl": "HumanEval-XL prompts taken as they are (signature, natural-language docstring, doctests): "
                    "the code is the same in every language, so premiums are smaller than on prose",
}


# ------------------------------------------------------------------ tokenizers

@dataclass
class Tokenizer:
    """A text -> token ids function (content tokens only), the model's limit and the special tokens it adds."""

    name: str
    encode: Callable[[str], list]
    limit: int | None = None  # tokens the model reads, special tokens included; None: no limit known
    n_special: int = 0  # tokens added around every text (BOS/EOS, CLIP's start/end of text)

    def count(self, text: str) -> int:
        return len(self.encode(text))

    def truncated(self, text: str) -> bool:
        return self.limit is not None and self.count(text) + self.n_special > self.limit


def configured_limit(n: Any) -> int | None:
    """A tokenizer's limit as int; None where none is configured (transformers reports a huge sentinel, 1e30)."""
    return int(n) if n and n < 100_000 else None


def from_hf(tok: Any, name: str, limit: int | None = None) -> Tokenizer:
    """A transformers tokenizer; ``limit``: the model's (else the tokenizer's model_max_length, if set)."""
    return Tokenizer(name, lambda t: tok(t, add_special_tokens=False, verbose=False)["input_ids"],
                     limit if limit is not None else configured_limit(getattr(tok, "model_max_length", None)),
                     int(tok.num_special_tokens_to_add(pair=False)))


def from_open_clip(tok: Any, name: str) -> Tokenizer:
    """open_clip's SimpleTokenizer (CLIP BPE: <start> text <end>, cut to context_length) or its HF wrappers."""
    ctx = configured_limit(getattr(tok, "context_length", None))
    inner = getattr(tok, "tokenizer", None)
    if inner is not None:  # HFTokenizer / SigLipTokenizer: a transformers tokenizer inside, cleaned text
        clean = getattr(tok, "clean_fn", None) or (lambda t: t)
        hf = from_hf(inner, name, ctx)
        return Tokenizer(name, lambda t: hf.encode(clean(t)), ctx, hf.n_special)
    return Tokenizer(name, tok.encode, ctx, 2)


def hf_tokenizer(name: str, family: str, max_length: str | int | None = None, **kwargs: Any) -> Tokenizer:
    """AutoTokenizer.from_pretrained alone (no weights): a folder, a hub id, or a folder + gguf_file=NAME;
    ``max_length`` (``--model-args max_length=77``, a string there): the model's limit, else the tokenizer's."""
    from transformers import AutoTokenizer

    from mmx.models.base import load_pretrained

    limit = _max_length(max_length)
    kw = {k: v for k, v in kwargs.items() if v}
    tok = load_pretrained(AutoTokenizer.from_pretrained, name, family, **kw)
    label = f"{family}:{name}" + (f" ({kw['gguf_file']})" if kw.get("gguf_file") else "")
    return from_hf(tok, label, limit)


def _max_length(v: str | int | None) -> int | None:
    if v is None or v == "":
        return None
    try:
        n = int(v)
    except (TypeError, ValueError):
        n = 0
    if n < 1:
        raise MmxError(f"max_length={v!r}: give the model's context limit in tokens, a whole number (e.g. "
                       "--model-args max_length=77)")
    return n


def load_tokenizer(model: str, args: dict[str, str] | None = None) -> Tokenizer:
    """``FAMILY:ID_OR_DIR`` as `mmx evaluate --model` takes it (through the family's ``load_tokenizer``), a bare
    tokenizer folder or hub id, or a .gguf file."""
    from mmx.registry import MODELS

    args = dict(args or {})
    family_name, _, name = model.partition(":")
    if name and family_name in {e.name for e in MODELS.listing()}:
        from mmx.registry import get_model_family

        loader = getattr(get_model_family(family_name), "load_tokenizer", None)
        if loader is None:
            raise MmxError(f"model family {family_name} has no tokenizer mmx can read (no load_tokenizer); "
                           f"`mmx tokenizers` takes hf-clip, open_clip, mclip, hf-causal, hf-whisper, hf-vlm "
                           f"models, or a tokenizer folder / hub id")
        name, args = _gguf(name, args)
        return loader(name, **args)
    name, args = _gguf(model, args)
    return hf_tokenizer(name, "tokenizer", **args)


def _gguf(name: str, args: dict) -> tuple:
    # a path to a .gguf file: its folder + gguf_file=NAME, as transformers wants it
    p = Path(name).expanduser()
    if p.suffix == ".gguf" and p.is_file():
        return str(p.parent), {**args, "gguf_file": p.name}
    return name, args


# ------------------------------------------------------------------ parallel text

@dataclass
class TokenText:
    """Parallel text as the parity counts it: items aligned by position across languages, an item a list of
    texts (several captions of an image; empty where the language lacks the item)."""

    name: str
    source: str
    items: dict[str, list[list[str]]]
    notes: tuple[str, ...] = ()


def _items(obj: Any, path: Path) -> dict[str, list[list[str]]]:
    from mmx.languages import normalize_code

    caps = obj.get("captions", obj) if isinstance(obj, dict) else None
    if not isinstance(caps, dict) or not caps:
        raise MmxError(f"{path}: expected a JSON object {{lang: [item, ...]}} or {{\"captions\": {{lang: [...]}}}} "
                       "of parallel texts (items aligned by position)")
    out = {}
    for lang, items in caps.items():
        if not isinstance(items, list):
            raise MmxError(f"{path}: the texts of {lang!r} should be a list (one item per position)")
        rows = []
        for i, it in enumerate(items):
            texts = [it] if isinstance(it, str) else it
            if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
                raise MmxError(f"{path}: item {i} of {lang!r} is neither a string nor a list of strings")
            rows.append([t for t in texts if t.strip()])
        out[normalize_code(lang, path)] = rows
    return out


def _humaneval_xl(folder: Path, label: str) -> dict[str, list[list[str]]]:
    """The Python prompts, paired across languages by task id (mmx/data/parallel.py reads the files); a task
    a language lacks is an empty item there, so the other items stay paired."""
    from mmx.data.parallel import read_humaneval_xl
    from mmx.languages import get_language

    _, by_stem, _ = read_humaneval_xl(folder, "python", "prompt", label)
    return {get_language(stem).code: [[t] if t.strip() else [] for t in texts] for stem, texts in by_stem.items()}


def parallel_text(which: str) -> TokenText:
    """``probe``, ``xtd10``, ``humaneval-xl``, a HumanEval-XL folder, or a JSON file of parallel texts."""
    shared = ROOT.parent / "shared" / "data"
    if which == "probe":
        path = ROOT / "assets" / "probe" / "captions.json"
        if not path.is_file():
            path = ROOT / "mmx" / "_share" / "assets" / "probe" / "captions.json"
    elif which == "xtd10":
        path = Path(os.environ.get("MMX_XTD10") or shared / "babel-imagenet" / "xtd.json")
    elif which == "humaneval-xl":
        path = Path(os.environ.get("MMX_HUMANEVAL_XL") or shared / "humaneval-xl")
    else:
        path = Path(which).expanduser()
    if not path.exists():
        hint = {"xtd10": "set MMX_XTD10 to XTD10's xtd.json", "humaneval-xl": "set MMX_HUMANEVAL_XL to the "
                "HumanEval-XL folder"}.get(which, f"use one of {', '.join(TEXTS)} or an existing JSON file")
        raise MmxError(f"--text {which}: {path} does not exist; {hint}")
    if path.is_dir() or which == "humaneval-xl":
        return TokenText("humaneval-xl", str(path), _humaneval_xl(path, f"--text {which}"), (NOTES["humaneval-xl"],))
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise MmxError(f"{path}: not a JSON file of parallel texts ({e})") from None
    return TokenText(which if which in TEXTS else "file", str(path), _items(obj, path))


# ------------------------------------------------------------------ the computation

def _ratio(a: float, b: float) -> float | None:
    return float(a / b) if b else None


def parity(tok: Tokenizer, text: TokenText, reference: str = REFERENCE, n_resamples: int = 1000,
           seed: int = 0) -> dict:
    """The tokenizer section: per language, characters, words, tokens, their ratios, the premium vs English with
    its bootstrap CI, and (with a limit) the share of texts truncated with its Wilson CI."""
    import numpy as np  # here, not at import: `mmx --help` and `mmx tasks` stay light

    from mmx.metrics.asr import uses_spaces
    from mmx.report.stats import percentile_ci, rng_for, wilson_ci

    counts = {lang: [[tok.count(t) for t in item] for item in items] for lang, items in text.items.items()}
    ref = counts.get(reference)
    langs = {}
    for lang, items in text.items.items():
        spaces = uses_spaces(lang)
        flat = [t for item in items for t in item]
        toks = sum(sum(c) for c in counts[lang])
        chars = sum(len(t) for t in flat)
        words = sum(len(t.split()) for t in flat) if spaces else None
        d: dict[str, Any] = {"n_items": sum(1 for it in items if it), "n_texts": len(flat), "chars": chars,
                             "words": words, "tokens": toks, "tokens_per_char": _ratio(toks, chars),
                             "tokens_per_word": _ratio(toks, words) if words is not None else None,
                             "premium": None, "premium_ci": None, "truncated": None, "truncated_ci": None,
                             "n_truncated": None}
        if ref is not None:
            shared = [i for i in range(min(len(items), len(ref))) if items[i] and text.items[reference][i]]
            mine = np.array([sum(counts[lang][i]) for i in shared], dtype=float)
            base = np.array([sum(ref[i]) for i in shared], dtype=float)
            if shared and base.sum():
                d["premium"] = float(mine.sum() / base.sum())
                if lang != reference:  # the reference's premium is 1 by definition: no interval
                    idx = rng_for(seed, "premium", lang).integers(0, len(shared), (n_resamples, len(shared)))
                    with np.errstate(divide="ignore", invalid="ignore"):
                        d["premium_ci"] = percentile_ci(mine[idx].sum(1) / base[idx].sum(1))
        if tok.limit is not None and flat:  # Tokenizer.truncated's rule, on the counts above (not a second pass)
            cut = sum(c + tok.n_special > tok.limit for item in counts[lang] for c in item)
            d.update(truncated=cut / len(flat), truncated_ci=wilson_ci(cut, len(flat)), n_truncated=int(cut))
        langs[lang] = d
    notes = [NOTES["words"], *([NOTES["premium"]] if ref is not None else
                               [f"no premium: the text has no {reference} (parallel text only)"]),
             *([NOTES["truncated"]] if tok.limit is not None else []), *text.notes]
    return {"tokenizer": tok.name, "text": text.name, "source": text.source, "reference": reference,
            "limit": tok.limit, "n_special": tok.n_special, "notes": notes, "languages": langs}


def truncation_flags(model: Any, texts: list[str]) -> list[float]:
    """1.0 / 0.0 per text: cut at the model's context limit; NaN where the adapter cannot say (no ``truncated``).
    Called on a cache miss only (the model is loaded then anyway)."""
    fn = getattr(model, "truncated", None)
    if fn is None:
        return [float("nan")] * len(texts)
    return [float(x) for x in fn(list(texts))]


# ------------------------------------------------------------------ run section, CLI, report

def run_section(spec: Any, family: type, model: Any = None, text: str = "probe") -> dict:
    """``{"tokenizer": section}`` for a run whose model family has a tokenizer, on the probe captions; ``{}``
    otherwise. The loaded adapter's own tokenizer is reused where the run loaded the model (a GGUF tokenizer
    takes half a minute to read). A tokenizer that does not load is a warning, never a failed run."""
    if getattr(family, "load_tokenizer", None) is None:
        return {}
    try:
        tok = _loaded_tokenizer(model, str(spec))
        if tok is None:
            name, args = _gguf(spec.name, dict(spec.args))
            tok = family.load_tokenizer(name, **args)
        return {"tokenizer": parity(tok, parallel_text(text))}
    except (MmxError, OSError, ValueError) as e:
        print(f"warning: no tokenizer section for {spec}: {str(e).splitlines()[0] if str(e) else e}",
              file=sys.stderr)
        return {}


def _loaded_tokenizer(model: Any, label: str) -> Tokenizer | None:
    """The tokenizer of an adapter the run has already loaded (a LazyModel that loaded), else None."""
    if model is None or not getattr(model, "loaded", False):
        return None
    adapter = getattr(model, "_model", model)
    tok = getattr(adapter, "tokenizer", None)
    if tok is None:
        return None
    if hasattr(tok, "num_special_tokens_to_add"):  # transformers; hf-clip / mclip cut at their max_length
        return from_hf(tok, label, configured_limit(getattr(adapter, "max_length", None)))
    if hasattr(tok, "context_length"):
        return from_open_clip(tok, label)
    return None


def _fmt(v: float | None, digits: int = 2) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def section_table(sec: dict) -> tuple[str, list[str], list[list[str]]]:
    """(caption, header, rows) of a tokenizer section, as the report and `mmx tokenizers` print it."""
    from mmx.report.summary import lang_info

    head = ["lang", "name", "texts", "tokens", "tokens/char", "tokens/word", f"premium vs {sec['reference']}"]
    if sec.get("limit") is not None:
        head.append(f"truncated >{sec['limit']} x100")
    rows = []
    for code, d in sorted(sec["languages"].items(), key=lambda kv: (kv[1]["premium"] is None, kv[1]["premium"] or 0)):
        name = lang_info(code)["name"]
        ci = d.get("premium_ci")
        prem = _fmt(d["premium"]) + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")
        row = [code, name, str(d["n_texts"]), str(d["tokens"]), _fmt(d["tokens_per_char"], 3),
               _fmt(d["tokens_per_word"]) if d["words"] is not None else "(no spaces)", prem]
        if sec.get("limit") is not None:
            tci = d.get("truncated_ci")
            row.append("-" if d["truncated"] is None else
                       f"{100 * d['truncated']:.1f}" + (f" [{100 * tci[0]:.1f}, {100 * tci[1]:.1f}]" if tci else ""))
        rows.append(row)
    caption = (f"Tokenizer parity: {sec['tokenizer']} on {sec['text']} ({sec['source']}); "
               + "; ".join(sec["notes"]))
    return caption, head, rows


def report_tables(summary: dict) -> list[tuple[str, list[str], list[list[str]]]]:
    """The run-level tables of a report summary (mmx/report/summary.py): the tokenizer section, if any."""
    sec = summary.get("tokenizer")
    return [section_table(sec)] if sec else []


def tokenizers_cmd(
    models: List[str] = typer.Argument(..., help="FAMILY:ID_OR_DIR as `mmx evaluate --model` takes it (hf-clip, "
                                                  "open_clip, mclip, hf-causal, hf-whisper, hf-vlm), a tokenizer "
                                                  "folder or hub id, or a .gguf file"),
    text: str = typer.Option("probe", help="parallel text: probe, xtd10, humaneval-xl, or a JSON file "
                                            "{lang: [item, ...]}"),
    model_args: Optional[str] = typer.Option(None, help="k=v,... for every model (e.g. gguf_file=NAME, max_length=77)"),
    as_json: bool = typer.Option(False, "--json", help="print the sections as JSON"),
) -> None:
    """Tokenizer parity: tokens per character and word, the premium vs English (same content) and the share
    of texts over the model's context limit, per language, on parallel text."""
    from mmx.capabilities import parse_kv

    args = parse_kv(model_args)
    parallel = parallel_text(text)
    out = {m: parity(load_tokenizer(m, args), parallel) for m in models}
    if as_json:
        print(json.dumps(out, indent=1, ensure_ascii=False))
        return
    for sec in out.values():
        caption, head, rows = section_table(sec)
        print(caption + "\n")
        widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
        for r in [head, ["-" * w for w in widths], *rows]:
            print("  ".join(str(x).ljust(w) for x, w in zip(r, widths)).rstrip())
        print()
