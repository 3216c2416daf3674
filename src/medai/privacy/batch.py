"""De-identify many notes: streamed, in worker processes (or Ray), resumable, written atomically.

Output is JSON Lines: one ``{"id", "patient_id", "lang", "text", "n_phi"}`` per note, in input
order; notes that could not be read or processed go to ``<out>.errors.jsonl`` as ``{"id",
"error", "source"}`` (never the note's text). With ``standoff``, the audit records
(:meth:`~medai.privacy.deid.DeidResult.standoff`) go to that JSONL.

While running, everything is written to ``.<name>.partial`` files beside the outputs; they are
renamed into place when the batch completes. Running the same command again after an
interruption resumes: ids already in the partial (or finished) outputs are skipped, a torn
last line is dropped, so no note is lost or written twice. Duplicate ids in the input are
reported as errors after the first.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medai.core.errors import InvalidInputError

__all__ = ["ENGINES", "BatchResult", "deidentify_notes"]

ENGINES = ("process", "ray", "serial")
Progress = Callable[[str, int, int], None]

_WORKER: Any = None


@dataclass
class BatchResult:
    """Counts of a batch run."""

    n_done: int
    n_errors: int
    n_skipped: int
    n_phi: int
    n_chars: int
    out: Path
    errors: Path
    standoff: Path | None


def _init_worker(options: dict[str, Any]) -> None:
    global _WORKER
    from medai.privacy.deid import Deidentifier

    _WORKER = (Deidentifier(**options["deid"]), options["mode"])


def _process(item: tuple[str, str, str | None, str]) -> dict[str, Any]:
    note_id, text, patient, source = item
    deid, mode = _WORKER
    try:
        r = deid.deidentify(text, patient_id=patient if patient is not None else note_id,
                            mode=mode)  # fmt: skip
    except Exception as exc:  # one note must never stop the batch; the reason is recorded
        return {"id": note_id, "error": f"{type(exc).__name__}: {str(exc)[:200]}",
                "source": source}  # fmt: skip
    return {"id": note_id, "patient_id": patient, "lang": r.lang, "text": r.text,
            "n_phi": len(r.spans), "n_chars": len(text), "standoff": r.standoff()}  # fmt: skip


def _process_chunk(chunk: list[tuple[str, str, str | None, str]]) -> list[dict[str, Any]]:
    return [_process(item) for item in chunk]


def _done_ids(*paths: Path) -> set[str]:
    """Ids in finished or partial outputs; a torn last line is cut off the partial file."""
    done: set[str] = set()
    for path in paths:
        if not path.exists():
            continue
        with path.open("rb+") as fh:
            data = fh.read()
            keep = data.rfind(b"\n") + 1
            if keep < len(data):  # the process died mid-line
                fh.truncate(keep)
        for line in data[:keep].splitlines():
            if line.strip():
                done.add(str(json.loads(line)["id"]))
    return done


def _partial(path: Path) -> Path:
    return path.with_name(f".{path.name}.partial")


def deidentify_notes(
    sources: str | Path | Iterable[str | Path],
    out: str | Path,
    *,
    mode: str = "tags",
    lang: str = "auto",
    types: Any = None,
    key: str | None = None,
    standoff: str | Path | None = None,
    engine: str = "process",
    workers: int | None = None,
    chunk_size: int = 64,
    text_col: str | None = None,
    id_col: str | None = None,
    encoding: str | None = None,
    tagger: Any = "default",
    progress: Progress | None = None,
) -> BatchResult:
    """De-identify notes from files, folders, tables or JSONL into a JSONL file.

    Parameters
    ----------
    sources
        As for :func:`medai.text.io.read_notes` (a ``patient_id`` column/field keys the
        surrogates; without one each note is its own patient).
    out : path
        ``.jsonl`` output.
    mode, lang, types, key, tagger
        As for :class:`~medai.privacy.deid.Deidentifier` / ``deidentify``.
    standoff : path, optional
        ``.jsonl`` audit file: per note ``{"id", "spans": [...]}`` (offsets, types, sources;
        no PHI text).
    engine : {"process", "ray", "serial"}
        Worker processes (default, ``workers`` of them: every core), Ray tasks (needs
        ``ray`` installed) or this process.
    chunk_size : int
        Notes per task.
    progress : callable(step, done, total), optional

    Returns
    -------
    BatchResult
    """
    from medai.privacy.deid import MODES, Deidentifier
    from medai.text.io import NoteError, read_notes

    out = Path(out)
    if out.suffix.lower() not in (".jsonl", ".ndjson"):
        raise InvalidInputError(f"output {str(out)!r} must end in .jsonl")
    if standoff is not None and Path(standoff).suffix.lower() not in (".jsonl", ".ndjson"):
        raise InvalidInputError(f"standoff {str(standoff)!r} must end in .jsonl")
    if mode not in MODES:
        raise InvalidInputError(f"mode must be one of {MODES}, got {mode!r}")
    if engine not in ENGINES:
        raise InvalidInputError(f"engine must be one of {ENGINES}, got {engine!r}")
    if chunk_size < 1 or (workers is not None and workers < 1):
        raise InvalidInputError("chunk_size and workers must be at least 1")
    if engine == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            raise InvalidInputError("--engine ray needs Ray: pip install 'ray>=2'") from None
    if tagger == "default":
        from medai.privacy.tagger import default_tagger_path

        tagger = default_tagger_path()
    deid_options = {"lang": lang, "types": types, "key": key, "tagger": tagger}
    Deidentifier(**deid_options)  # check the options (and the key) before any work
    if key is None:
        # one random key for the whole batch, so that workers agree on the surrogates
        import secrets

        deid_options["key"] = secrets.token_hex(32)
    options = {"deid": deid_options, "mode": mode}

    errors = out.with_name(out.name.removesuffix(".jsonl") + ".errors.jsonl")
    paths = [out, errors] + ([Path(standoff)] if standoff is not None else [])
    for p in paths:
        p.parent.mkdir(parents=True, exist_ok=True)
    done = _done_ids(out, _partial(out), errors, _partial(errors))
    # a finished output is reopened as a partial so that new notes can be added
    for p in paths:
        if p.exists() and not _partial(p).exists():
            p.replace(_partial(p))
    n_skipped = 0
    seen: set[str] = set()

    def todo() -> Iterator[Any]:
        nonlocal n_skipped
        paths = [sources] if isinstance(sources, str | Path) else list(sources)
        for note in read_notes(paths, text_col=text_col, id_col=id_col, encoding=encoding):
            if note.id in done:
                n_skipped += 1
                continue
            if note.id in seen:
                yield {"id": note.id, "error": "duplicate id (the first note with it was kept)",
                       "source": note.source}  # fmt: skip
                continue
            seen.add(note.id)
            if isinstance(note, NoteError):
                yield note.to_dict()
            else:
                yield (note.id, note.text, note.patient_id, note.source)

    counts = {"done": 0, "errors": 0, "phi": 0, "chars": 0}
    handles = {p: _partial(p).open("a", encoding="utf-8") for p in paths}
    try:
        for record in _run(todo(), options, engine, workers, chunk_size):
            if "error" in record:
                handles[errors].write(json.dumps(record, ensure_ascii=False) + "\n")
                counts["errors"] += 1
            else:
                if standoff is not None:
                    handles[Path(standoff)].write(json.dumps(
                        {"id": record["id"], "spans": record["standoff"]}) + "\n")  # fmt: skip
                row = {k: record[k] for k in ("id", "patient_id", "lang", "text", "n_phi")}
                handles[out].write(json.dumps(row, ensure_ascii=False) + "\n")
                counts["done"] += 1
                counts["phi"] += record["n_phi"]
                counts["chars"] += record["n_chars"]
            if progress is not None:
                n = counts["done"] + counts["errors"]
                progress("de-identifying", n, n)
        for h in handles.values():
            h.flush()
            os.fsync(h.fileno())
    finally:
        for h in handles.values():
            h.close()
    for p in paths:
        _partial(p).replace(p)
    return BatchResult(counts["done"], counts["errors"], n_skipped, counts["phi"],
                       counts["chars"], out, errors, Path(standoff) if standoff else None)  # fmt: skip


def _chunks(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    while True:
        chunk = list(itertools.islice(items, size))
        if not chunk:
            return
        yield chunk


def _run(items: Iterator[Any], options: dict[str, Any], engine: str, workers: int | None,
         chunk_size: int) -> Iterator[dict[str, Any]]:  # fmt: skip
    """Records in input order; notes that failed to read pass straight through."""

    def split(chunk: list[Any]) -> tuple[list[Any], list[tuple[int, dict[str, Any]]]]:
        notes = [c for c in chunk if isinstance(c, tuple)]
        failed = [(i, c) for i, c in enumerate(chunk) if isinstance(c, dict)]
        return notes, failed

    def merge(chunk: list[Any], results: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        it = iter(results)
        for c in chunk:
            yield c if isinstance(c, dict) else next(it)

    if engine == "serial":
        _init_worker(options)
        for chunk in _chunks(items, chunk_size):
            yield from merge(chunk, _process_chunk(split(chunk)[0]))
        return
    n = workers or os.cpu_count() or 1
    if engine == "ray":
        import ray

        if not ray.is_initialized():
            ray.init(num_cpus=n, include_dashboard=False, log_to_driver=False)

        @ray.remote
        def task(chunk: list[Any]) -> list[dict[str, Any]]:
            if _WORKER is None:
                _init_worker(options)
            return _process_chunk(chunk)

        pending: list[tuple[list[Any], Any]] = []
        for chunk in _chunks(items, chunk_size):
            pending.append((chunk, task.remote(split(chunk)[0])))
            if len(pending) >= 2 * n:
                c, ref = pending.pop(0)
                yield from merge(c, ray.get(ref))
        for c, ref in pending:
            yield from merge(c, ray.get(ref))
        return
    with ProcessPoolExecutor(max_workers=n, initializer=_init_worker,
                             initargs=(options,)) as pool:  # fmt: skip
        window: list[tuple[list[Any], Any]] = []
        for chunk in _chunks(items, chunk_size):
            window.append((chunk, pool.submit(_process_chunk, split(chunk)[0])))
            if len(window) >= 4 * n:  # bounded memory: at most 4 chunks per worker in flight
                c, fut = window.pop(0)
                yield from merge(c, fut.result())
        for c, fut in window:
            yield from merge(c, fut.result())
