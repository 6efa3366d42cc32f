"""Command line: `mmx evaluate`, `mmx tasks`, `mmx models`, `mmx validate`, `mmx languages`, `mmx build-tiny-model`,
`mmx report`, `mmx compare`, `mmx schema`."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from mmx.errors import MmxError, check_number

UNSAFE_HELP = "runs model-generated code without a sandbox (where none is available), at your own risk"

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="mmx: multimodal, multilingual evaluation. Every language reported the same way.")
# Piped output (make, CI logs) gets a wide table instead of rich's 80-column default.
console = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 160)


def _split(s: Optional[str]) -> list[str] | None:
    return [x.strip() for x in s.split(",") if x.strip()] if s else None


@app.command()
def evaluate(
    model: Optional[str] = typer.Option(None, help="FAMILY:ID_OR_PATH (default: the suite's default model)"),
    model_args: Optional[str] = typer.Option(None, help="k=v,... passed to the adapter (e.g. dtype=bf16)"),
    suite: Optional[str] = typer.Option(None, help="a suite from tasks/ (see `mmx tasks`)"),
    tasks: Optional[str] = typer.Option(None, help="comma-separated task names or YAML paths"),
    languages: Optional[str] = typer.Option(None, help="only these languages, e.g. de,ja (any ISO/BCP-47 code)"),
    limit: Optional[int] = typer.Option(None, help="first N items per task (for a quick check)"),
    batch_size: int = typer.Option(32, help="items per model call"),
    device: Optional[str] = typer.Option(None, help="cpu, cuda, cuda:1 (default: cuda if present)"),
    output: Optional[Path] = typer.Option(None, help="run directory (default runs/MODEL__SUITE); a rerun resumes"),
    seed: int = typer.Option(1234, help="seed for everything random"),
    data_args: Optional[str] = typer.Option(None, help="k=v,... overriding the tasks' dataset fields (images=DIR)"),
    overwrite: bool = typer.Option(False, help="discard an existing run in --output"),
    progress: bool = typer.Option(True, help="show progress bars"),
    cache: bool = typer.Option(True, help="reuse model outputs cached on disk (MMX_CACHE_DIR, default ~/.cache/mmx)"),
    on_error: str = typer.Option("fail", help="a bad sample (corrupt audio, ...): fail stops the run, skip records it and goes on"),
    allow_unsafe_execution: bool = typer.Option(False, help=UNSAFE_HELP),
) -> None:
    """Run a suite or tasks over a model; print the per-language table.

    Sharded over N processes/GPUs: torchrun --nproc-per-node N -m mmx evaluate ...
    """
    from mmx.models.base import parse_kv
    from mmx.report.table import render_tables
    from mmx.runner import EvalRequest, evaluate as run_eval

    if on_error not in ("fail", "skip"):
        raise MmxError(f"--on-error {on_error!r}: use fail or skip")
    if limit is not None:
        limit = check_number("--limit", limit, low=1, integer=True)
    batch_size = check_number("--batch-size", batch_size, low=1, integer=True)
    req = EvalRequest(model=model, model_args=parse_kv(model_args), suite=suite, tasks=_split(tasks) or [],
                      languages=_split(languages), limit=limit, batch_size=batch_size, device=device,
                      output=output, seed=seed, data_args=parse_kv(data_args), overwrite=overwrite,
                      progress=progress, cache=cache, on_error=on_error,
                      allow_unsafe_execution=allow_unsafe_execution)
    results = run_eval(req)
    if not results["tasks"]:  # a rank other than 0 in a sharded run: rank 0 reports
        return
    render_tables(results, console)
    console.print(f"results: {results['_dir']}/results.json  samples: {results['_dir']}/samples/")


@app.command("tasks")
def list_tasks() -> None:
    """List task definitions and suites."""
    from mmx.tasks.base import all_suites, all_tasks

    tbl = Table("task", "kind", "languages", "metrics", "file", title="tasks")
    for t in sorted(all_tasks(), key=lambda t: t.name):
        tbl.add_row(t.name, t.kind, "all" if t.languages is None else str(len(t.languages)),
                    ",".join(t.metrics), str(t.path))
    console.print(tbl)
    st = Table("suite", "tasks", "default model", title="suites")
    for s in sorted(all_suites(), key=lambda s: s.name):
        st.add_row(s.name, ",".join(s.tasks), s.default_model)
    console.print(st)


@app.command("models")
def list_models() -> None:
    """List registered model families and task kinds (plugins included), without importing them."""
    from mmx.registry import MODELS, TASKS

    tbl = Table("family", "capability", "about", "from", title="model families")
    for e in MODELS.listing():
        tbl.add_row(e.name, e.capability_name, e.about, e.source)
    console.print(tbl)
    kt = Table("task kind", "needs", "about", "from", title="task kinds")
    for e in TASKS.listing():
        kt.add_row(e.name, e.capability_name, e.about, e.source)
    console.print(kt)


@app.command("validate")
def validate(files: list[Path] = typer.Argument(..., help="task or suite YAML files")) -> None:
    """Check task and suite YAML files without running them: keys, kind, loader and its dataset keys,
    metrics, a suite's task names. Prints "ok" per good file; exits 2 with the problems otherwise."""
    from mmx.validate import validate_file

    bad = 0
    for f in files:
        problems = validate_file(f)
        if problems:
            bad += 1
            for msg in problems:
                err.print(f"{f}: {msg}", highlight=False, markup=False, soft_wrap=True)
        else:
            console.print(f"{f}: ok", highlight=False, markup=False, soft_wrap=True)
    if bad:
        raise typer.Exit(2)


@app.command("languages")
def list_languages(code: Optional[str] = typer.Argument(None, help="look up one code")) -> None:
    """Show the language table (or one entry)."""
    from mmx.languages import all_languages, get_language

    langs = [get_language(code)] if code else all_languages()
    tbl = Table("code", "iso639-3", "name", "script", "family", "resource", title=f"{len(langs)} languages")
    for lang in langs:
        tbl.add_row(lang.code, lang.iso639_3, lang.name, lang.script, lang.family, str(lang.resource_level))
    console.print(tbl)


@app.command("build-tiny-model")
def build_tiny_model(family: str = typer.Argument(..., help="hf-clip, open_clip, mclip, hf-whisper, hf-ctc or hf-vits"),
                     out_dir: Path = typer.Argument(...), seed: int = 0) -> None:
    """Build a tiny model with RANDOM weights into OUT_DIR (offline demo and tests); prints its --model spec."""
    from mmx.models.tiny import build_tiny
    from mmx.models.tiny_speech import BUILDERS as SPEECH_BUILDERS

    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise MmxError(f"build-tiny-model: {out_dir} already exists{'' if out_dir.is_dir() else ' as a file'}; "
                       "give a new folder (or delete that one first)")
    if family in SPEECH_BUILDERS:  # hf-whisper, hf-ctc, hf-vits
        console.print(f"{family}:{SPEECH_BUILDERS[family](out_dir, seed=seed)}")
        return
    console.print(build_tiny(family, out_dir, seed=seed))


@app.command("compare")
def compare(
    baseline: Path = typer.Argument(..., help="run directory (or its results.json) of the baseline"),
    new: Path = typer.Argument(..., help="run directory (or its results.json) of the candidate"),
    metric: Optional[str] = typer.Option(None, help="metric to compare (default: each task's primary metric)"),
    threshold: float = typer.Option(0.01, help="a drop larger than this (metric units: 0.01 = 1 point x100) fails"),
    alpha: float = typer.Option(0.05, help="significance level (p-values Holm-adjusted over all languages)"),
    tasks: Optional[str] = typer.Option(None, help="only these tasks (comma-separated)"),
    languages: Optional[str] = typer.Option(None, help="only these languages (comma-separated)"),
    allow_different_data: bool = typer.Option(False, help="compare runs on different data (shared samples only)"),
    speed_tolerance: Optional[float] = typer.Option(
        None, help="also fail when a task's speed figure (results.json 'speed') is worse by more than this share "
                   "(0.2 = 20% slower); both runs must be timed on the same device"),
    resamples: int = typer.Option(1000, help="bootstrap and permutation resamples"),
    seed: int = typer.Option(0, help="seed of the resampling"),
    format: str = typer.Option("table", help="table, md or json"),
) -> None:
    """Paired per-language comparison of two runs; exits 1 when a language drops significantly (CI gate)."""
    from mmx.report.compare import compare_runs, render_compare, verdict
    from mmx.report.run import load_run

    if format not in ("table", "md", "json"):
        raise MmxError(f"--format {format!r}: use table, md or json")
    threshold = check_number("--threshold", threshold, low=0)
    alpha = check_number("--alpha", alpha, low=0, high=1, low_open=True, high_open=True)
    if resamples < 1:
        raise MmxError(f"--resamples should be >= 1 (100 or more recommended), got {resamples}")
    if resamples < 100:
        err.print(f"note: --resamples {resamples}: p-values and intervals this coarse are rough; 100 or more "
                  "recommended", highlight=False, markup=False, soft_wrap=True)
    result = compare_runs(load_run(baseline), load_run(new), metric=metric, threshold=threshold, alpha=alpha,
                          tasks=_split(tasks), languages=_split(languages),
                          allow_different_data=allow_different_data, n_resamples=resamples, seed=seed,
                          speed_tolerance=None if speed_tolerance is None else
                          check_number("--speed-tolerance", speed_tolerance, low=0))
    result["verdict"] = verdict(result)
    render_compare(result, format, console)
    if format == "json":
        err.print(result["verdict"], markup=False, highlight=False, soft_wrap=True)
    if result["regressions"] or result["speed_regressions"]:
        raise typer.Exit(1)


@app.command("report")
def report(
    run_dir: Path = typer.Argument(..., help="run directory (or its results.json)"),
    format: str = typer.Option("md", help="md, html or json"),
    output: Optional[Path] = typer.Option(None, help="write here, not stdout (html: default RUN_DIR/report.html)"),
) -> None:
    """Summarise a run: per-language scores with CIs, groups, spread, gap to English (Markdown, HTML or JSON)."""
    from mmx.report.run import load_run
    from mmx.report.summary import summarize, to_markdown
    from mmx.schema import dumps

    if format not in ("md", "html", "json"):
        raise MmxError(f"--format {format!r}: use md, html or json")
    run = load_run(run_dir)
    summary = summarize(run)
    if format == "html":
        from mmx.report.html import to_html

        text = to_html(summary)
        output = output or run.dir / "report.html"
    else:
        text = to_markdown(summary) if format == "md" else dumps(summary, indent=1)
    if output:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as e:
            raise MmxError(f"--output {output}: cannot write the report there ({e.strerror or e})") from None
        console.print(f"report: {output}", markup=False, highlight=False, soft_wrap=True)
    else:
        print(text)


@app.command("schema")
def schema_cmd(
    name: str = typer.Argument("results", help="results (results.json), samples (a samples/*.jsonl line), run, "
                                                "or task:KIND (the typed options a task kind reads from its YAML)"),
    check: Optional[Path] = typer.Option(None, help="validate this file (or run directory) instead; exits 1 if bad"),
) -> None:
    """Print the JSON Schema (draft 2020-12) of results.json or a samples record, or check a file against it."""
    import json

    from mmx import results

    if name.startswith("task:") and check is None:
        from mmx.registry import get_task_kind

        print(json.dumps(get_task_kind(name[5:]).Options.model_json_schema(), indent=1, sort_keys=True))
        return
    if name not in results.TYPES:
        raise MmxError(f"mmx schema {name!r}: use {', '.join(results.TYPES)} or task:KIND (see `mmx tasks`)")
    if check is None:
        print(results.published_schema(name) if name in results.SCHEMA_FILES
              else json.dumps(results.json_schema(name), indent=1, sort_keys=True))
        return
    path = check / {"results": "results.json", "run": "run.json"}.get(name, "") if check.is_dir() else check
    try:
        docs = (path.read_text(encoding="utf-8").splitlines() if name == "samples"
                else [path.read_text(encoding="utf-8")])
    except (OSError, UnicodeDecodeError) as e:
        raise MmxError(f"--check {path}: cannot read it ({e})") from None
    bad = [f"{path}{f':{i}' if name == 'samples' else ''}: {e}"
           for i, doc in enumerate(docs, 1) for e in results.errors(doc, name)]
    for line in bad[:50]:
        print(line)
    print(f"{path}: {'ok' if not bad else f'{len(bad)} error(s)'} against the {name} schema, version "
          f"{results.SCHEMA_VERSION}")
    if bad:
        raise typer.Exit(1)


@app.command("verify-execution")
def verify_execution(
    benchmark: str = typer.Argument("humaneval-xl", help="humaneval-xl"),
    languages: Optional[str] = typer.Option(None, help="programming languages, e.g. python,java (default: all 12)"),
    natural: str = typer.Option("English", help="natural language whose files to run"),
    root: Optional[Path] = typer.Option(None, help="HumanEval-XL data folder (default: the task YAML's)"),
    workers: Optional[int] = typer.Option(None, help="programs run in parallel (default: CPU cores)"),
    limit: Optional[int] = typer.Option(None, help="first N problems per language"),
    allow_unsafe_execution: bool = typer.Option(False, help=UNSAFE_HELP),
) -> None:
    """Run canonical solutions through the sandboxed executors; exits 1 if any fail (trust the harness first)."""
    import inspect

    from mmx.execution.verify import verify_humaneval_xl
    from mmx.tasks.base import load_task

    if benchmark.replace("_", "-") != "humaneval-xl":
        raise MmxError(f"verify-execution {benchmark!r}: only humaneval-xl is supported")
    if workers is not None:
        workers = check_number("--workers", workers, low=1, integer=True)
    if limit is not None:
        limit = check_number("--limit", limit, low=1, integer=True)
    if root is None:
        spec = load_task("humaneval_xl_python")
        root = spec.resolve_path(spec.dataset["root"]) if spec.dataset.get("root") else None  # None: the Hub
    unsafe = ({"allow_unsafe": allow_unsafe_execution}
              if "allow_unsafe" in inspect.signature(verify_humaneval_xl).parameters else {})
    checks = verify_humaneval_xl(root, _split(languages), natural, workers, limit, **unsafe)
    tbl = Table("language", "status", "checked", "passed", "seconds", "note", title=f"executors on HumanEval-XL ({natural})")
    for c in checks:
        tbl.add_row(c.language, c.status, c.checked, f"{c.passed}/{c.total}" if c.total else "-",
                    f"{c.seconds:.1f}" if c.total else "", c.note)
    console.print(tbl)
    for c in checks:
        for tid, msg in c.failures:
            console.print(f"FAILED {c.language} {tid}: {msg}", markup=False, highlight=False, soft_wrap=True)
    if any(c.status == "failed" for c in checks):
        raise typer.Exit(1)


cache_app = typer.Typer(no_args_is_help=True, help="The output cache (MMX_CACHE_DIR, default ~/.cache/mmx): "
                        "`mmx cache info`, `mmx cache clear`.")
app.add_typer(cache_app, name="cache")
CACHE_DIR_HELP = "the cache folder or its outputs.sqlite (default: MMX_CACHE_DIR or ~/.cache/mmx)"


def _print_cache_info(info: dict) -> None:
    mb = lambda n: f"{n / 1e6:.1f} MB"  # noqa: E731
    print(f"cache: {info['path']}" + ("" if info["exists"] else " (none yet)"))
    print(f"size: {mb(info['size_bytes'])}, {info['entries']} entries, {info['models']} model key(s)")
    for kind, k in sorted(info["kinds"].items()):
        print(f"  {kind}: {k['entries']} entries, {mb(k['bytes'])}")
    for p in info["set_aside"]:
        print(f"damaged file set aside: {p}")


@cache_app.command("info")
def cache_info_cmd(dir: Optional[Path] = typer.Option(None, "--dir", help=CACHE_DIR_HELP),
                   as_json: bool = typer.Option(False, "--json", help="print the numbers as JSON")) -> None:
    """Where the output cache is, its size, and its entries per kind of output and model."""
    import json

    from mmx.cache import cache_info

    info = cache_info(dir)
    print(json.dumps(info, indent=1)) if as_json else _print_cache_info(info)


@cache_app.command("clear")
def cache_clear_cmd(dir: Optional[Path] = typer.Option(None, "--dir", help=CACHE_DIR_HELP),
                    yes: bool = typer.Option(False, "--yes", "-y", help="do not ask for confirmation")) -> None:
    """Delete every cached output (only mmx's cache file is touched; outputs are computed again when needed)."""
    from mmx.cache import cache_info, clear_cache

    info = cache_info(dir)  # refuses anything that is not an mmx cache
    what = f"{info['entries']} cached outputs in {info['path']}"
    if not yes:
        if not sys.stdin.isatty():
            raise MmxError(f"mmx cache clear would delete {what}: pass --yes to confirm")
        if not typer.confirm(f"delete {what}?"):
            print("nothing deleted")
            return
    clear_cache(dir)
    print(f"deleted {what}" + (f" and {len(info['set_aside'])} damaged file(s) set aside" if info["set_aside"] else ""))


from mmx.report.correlate import correlate_cmd  # noqa: E402  (issue 13.5: across runs)
from mmx.report.leaderboard import leaderboard_cmd  # noqa: E402  (issue 13.4)

app.command("leaderboard")(leaderboard_cmd)
app.command("correlate")(correlate_cmd)
from mmx.metrics.tokenizers import tokenizers_cmd  # noqa: E402  (issue 13.3)
app.command("tokenizers")(tokenizers_cmd)

data_app = typer.Typer(no_args_is_help=True, help="The benchmarks' data (catalogue: mmx/data/catalog.yaml): "
                       "`mmx data list`, `info NAME`, `download NAME`, `verify NAME`.")
app.add_typer(data_app, name="data")


@data_app.command("list")
def data_list_cmd(as_json: bool = typer.Option(False, "--json", help="print the listing as JSON")) -> None:
    """Every benchmark in the catalogue: source, licence, size, languages and their provenance, cached or not."""
    import json

    from mmx.data.manage import listing

    rows = listing()
    if as_json:
        print(json.dumps(rows, indent=1, ensure_ascii=False))
        return
    tbl = Table("name", "modality", "source", "licence", "size", "langs", "provenance", "cache",
                title="benchmarks (mmx data info NAME for more)")
    for r in rows:
        tbl.add_row(r["name"], r["modality"], r["source"] + (" (gated)" if r["gated"] else ""),
                    r["licence"].split(" (")[0].split(";")[0],  # the whole text: mmx data info NAME
                    r["size"], str(r["languages"]), r["provenance"], r["cache"])
    console.print(tbl)


@data_app.command("info")
def data_info_cmd(name: str = typer.Argument(..., help="a benchmark (see `mmx data list`)")) -> None:
    """Everything the catalogue says about one benchmark, with the facts it could not confirm."""
    import yaml

    from mmx.data.catalog import benchmark
    from mmx.data.manage import cache_state, cached_snapshot

    b = benchmark(name)
    doc = b.model_dump(exclude_defaults=False)
    doc["cache"] = cache_state(b) + (f" ({cached_snapshot(b)})" if cached_snapshot(b) else "")
    print(yaml.safe_dump({name: doc}, sort_keys=False, allow_unicode=True, width=110), end="")


@data_app.command("download")
def data_download_cmd(name: str = typer.Argument(..., help="a benchmark (see `mmx data list`)"),
                      languages: Optional[str] = typer.Option(None, help="comma-separated language codes")) -> None:
    """Fetch what the benchmark's tasks read into the Hugging Face caches (resumable), for offline runs."""
    from mmx.runner import download_benchmark as download

    langs = [x.strip() for x in languages.split(",") if x.strip()] if languages else None
    for line in download(name, langs):
        print(f"cached {line}")
    print(f"done: run offline with HF_HUB_OFFLINE=1; `mmx data verify {name}` checks the files")


@data_app.command("verify")
def data_verify_cmd(name: str = typer.Argument(..., help="a benchmark (see `mmx data list`)"),
                    path: Optional[Path] = typer.Option(None, help="a local copy in the Hub's layout "
                                                                   "(default: the cached snapshot)")) -> None:
    """Check the cached files against the catalogue's sha256 sums and pinned revision (exit 1 on a mismatch)."""
    from mmx.data.manage import verify

    v = verify(name, path)
    print(f"{name}: {v.snapshot}")
    for x in v.ok:
        print(f"  ok       {x}")
    for x in v.bad:
        print(f"  MISMATCH {x}")
    for x in v.missing:
        print(f"  MISSING  {x}")
    for x in v.unverifiable:
        print(f"  cannot verify {x}")
    print(f"{len(v.ok)} ok, {len(v.bad)} mismatched, {len(v.missing)} missing, {len(v.unverifiable)} unverifiable")
    if v.bad or v.missing:
        raise typer.Exit(1)


def main() -> None:
    from mmx.dist import shutdown_dist
    from mmx.schema import scrub

    try:
        # Click's own usage errors (a bad option, a non-number) exit 2 as well; 1 is left to `mmx compare`'s
        # regressions and verify-execution's failed harness checks.
        app()
    except MmxError as e:
        err.print(f"error: {scrub(str(e))}", highlight=False, markup=False, soft_wrap=True)
        sys.exit(2)
    finally:
        shutdown_dist()


if __name__ == "__main__":
    main()

