"""Tiny random-weight speech models saved in the layout of real ones, for tests and offline smoke runs.

- ``build_tiny_whisper``: a 2-layer Whisper with a working multilingual tokenizer built from scratch:
  byte-level BPE with no merges (every script encodes, as in mmx/models/tiny.py) plus Whisper's special
  tokens (<|startoftranscript|>, one <|xx|> per Whisper language, <|transcribe|>, <|notimestamps|>, ...),
  and a generation config with lang_to_id / task_to_id, so ``generate(language=..., task=...)`` runs the
  same code path as openai/whisper-*.
- ``build_tiny_ctc``: a 2-layer wav2vec2 CTC with a character vocabulary; ``adapters=[iso639_3, ...]``
  makes an MMS-style model (adapter layers + one ``adapter.<iso>.safetensors`` and vocabulary per language).
- ``build_tiny_vits``: a tiny VITS (MMS-TTS layout) with a character vocabulary.

All folders carry the random-weights marker, so every report says "random weights".
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from mmx.models.base import mark_random_weights

CHARS = list("abcdefghijklmnopqrstuvwxyzäöüßéèàçñ'")


def _bytes_vocab() -> dict[str, int]:
    from mmx.models.tiny import _bytes_to_unicode

    table = _bytes_to_unicode()
    return {table[b]: b for b in range(256)}


# The dimensions of OpenAI's whisper-small, for a random model of real size (benchmarks/bench_asr.py --hf-size)
WHISPER_SMALL = dict(d_model=768, encoder_layers=12, decoder_layers=12, encoder_attention_heads=12,
                     decoder_attention_heads=12, encoder_ffn_dim=3072, decoder_ffn_dim=3072, max_target_positions=448)


def build_tiny_whisper(out_dir: str | os.PathLike, seed: int = 0, dims: dict | None = None,
                       max_length: int = 24) -> str:
    """A Whisper with random weights and a byte-level vocabulary, tiny unless `dims` (WhisperConfig fields,
    e.g. WHISPER_SMALL) say otherwise; greedy decoding stops at `max_length` tokens."""
    from transformers import (WhisperConfig, WhisperFeatureExtractor, WhisperForConditionalGeneration,
                              WhisperProcessor, WhisperTokenizer)
    from transformers.models.whisper.tokenization_whisper import LANGUAGES

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    vocab = _bytes_vocab()
    vocab["<|endoftext|>"] = 256
    tok = WhisperTokenizer(vocab=vocab, merges=[])
    specials = (["<|startoftranscript|>"] + [f"<|{c}|>" for c in LANGUAGES] +
                ["<|translate|>", "<|transcribe|>", "<|startoflm|>", "<|startofprev|>", "<|nospeech|>",
                 "<|notimestamps|>"])
    tok.add_special_tokens({"additional_special_tokens": specials})
    ids = {t: tok.convert_tokens_to_ids(t) for t in ["<|endoftext|>", *specials]}
    vocab_size = len(tok)
    torch.manual_seed(seed)
    shape = {**dict(d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=2, decoder_attention_heads=2,
                    encoder_ffn_dim=64, decoder_ffn_dim=64, max_target_positions=max_length), **(dims or {})}
    cfg = WhisperConfig(
        vocab_size=vocab_size, num_mel_bins=80, **shape,
        max_source_positions=1500, pad_token_id=ids["<|endoftext|>"],
        bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|endoftext|>"],
        decoder_start_token_id=ids["<|startoftranscript|>"], begin_suppress_tokens=None, suppress_tokens=None)
    model = WhisperForConditionalGeneration(cfg).eval()
    g = model.generation_config
    g.decoder_start_token_id = ids["<|startoftranscript|>"]
    g.eos_token_id = g.pad_token_id = ids["<|endoftext|>"]
    g.lang_to_id = {f"<|{c}|>": ids[f"<|{c}|>"] for c in LANGUAGES}
    g.task_to_id = {"transcribe": ids["<|transcribe|>"], "translate": ids["<|translate|>"]}
    g.no_timestamps_token_id = ids["<|notimestamps|>"]
    g.is_multilingual = True
    g.max_length = max_length
    g.forced_decoder_ids = None
    g._from_model_config = False  # else generate() rebuilds it from the model config, losing lang_to_id
    model.save_pretrained(out)
    WhisperProcessor(WhisperFeatureExtractor(feature_size=80), tok).save_pretrained(out)
    mark_random_weights(out, "mmx.models.tiny_speech.build_tiny_whisper")
    return str(out)


def _ctc_vocab() -> dict[str, int]:
    vocab = {"<pad>": 0, "<s>": 1, "</s>": 2, "<unk>": 3, "|": 4}
    for c in CHARS:
        vocab[c] = len(vocab)
    return vocab


def build_tiny_ctc(out_dir: str | os.PathLike, seed: int = 0, adapters: list[str] | None = None) -> str:
    from safetensors.torch import save_file
    from transformers import (Wav2Vec2Config, Wav2Vec2CTCTokenizer, Wav2Vec2FeatureExtractor, Wav2Vec2ForCTC,
                              Wav2Vec2Processor)

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    vocab = _ctc_vocab()
    if adapters:  # MMS layout: {iso639_3: vocabulary}; a tiny per-language difference keeps them apart
        (out / "vocab.json").write_text(json.dumps({iso: vocab for iso in adapters}, ensure_ascii=False))
        tok = Wav2Vec2CTCTokenizer(str(out / "vocab.json"), target_lang=adapters[0])
    else:
        (out / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False))
        tok = Wav2Vec2CTCTokenizer(str(out / "vocab.json"))
    torch.manual_seed(seed)
    cfg = Wav2Vec2Config(
        vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        conv_dim=(32, 32, 32), conv_stride=(5, 4, 4), conv_kernel=(10, 4, 4), num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2, feat_extract_norm="layer", do_stable_layer_norm=True,
        pad_token_id=0, ctc_loss_reduction="mean", adapter_attn_dim=8 if adapters else None)
    model = Wav2Vec2ForCTC(cfg).eval()
    model.save_pretrained(out)
    if adapters:
        for i, iso in enumerate(adapters):
            torch.manual_seed(seed + 1 + i)
            weights = {k: torch.randn_like(v) * 0.5 for k, v in model._get_adapters().items()}
            save_file(weights, str(out / f"adapter.{iso}.safetensors"))
    fe = Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=True,
                                  return_attention_mask=True)
    Wav2Vec2Processor(feature_extractor=fe, tokenizer=tok).save_pretrained(out)
    mark_random_weights(out, "mmx.models.tiny_speech.build_tiny_ctc")
    return str(out)


def build_tiny_vits(out_dir: str | os.PathLike, seed: int = 0) -> str:
    from transformers import VitsConfig, VitsModel, VitsTokenizer

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    vocab = {c: i for i, c in enumerate(["<pad>", " ", *CHARS])}
    (out / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False))
    tok = VitsTokenizer(str(out / "vocab.json"), pad_token="<pad>", unk_token="<pad>", add_blank=True,
                        normalize=True, phonemize=False, is_uroman=False)
    torch.manual_seed(seed)
    cfg = VitsConfig(
        vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2, ffn_dim=32,
        flow_size=16, spectrogram_bins=33, upsample_initial_channel=16, upsample_rates=[8, 8],
        upsample_kernel_sizes=[16, 16], resblock_kernel_sizes=[3], resblock_dilation_sizes=[[1, 3]],
        prior_encoder_num_flows=1, prior_encoder_num_wavenet_layers=1, posterior_encoder_num_wavenet_layers=1,
        duration_predictor_num_flows=1, duration_predictor_filter_channels=16, sampling_rate=16000)
    VitsModel(cfg).eval().save_pretrained(out)
    tok.save_pretrained(out)
    mark_random_weights(out, "mmx.models.tiny_speech.build_tiny_vits")
    return str(out)


BUILDERS = {"hf-whisper": build_tiny_whisper, "hf-ctc": build_tiny_ctc, "hf-vits": build_tiny_vits}
