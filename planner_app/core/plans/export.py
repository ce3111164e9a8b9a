"""Writing a deployment plan with its parts, all or nothing.

The plan JSON and one ONNX file per stage are first written into a hidden
temporary folder next to the target; only when every file is on disk (and each
part's sha256 matches what the plan says) are they moved into place. A failure
or a cancel before that leaves the target folder as it was: no half-written
plan, no orphan parts (a failure during the move rolls back what was moved).
The move is two renames, the parts folder then the plan file: only a crash of
the machine between the two can leave new parts beside the old plan, and then
``edgeplan plan validate`` reports the hash mismatch; a plan never silently
names parts it does not describe. The parts folder (``parts/`` by default) belongs to the
plan: exporting again replaces it as a whole, so keep one plan per folder.

The staging folder (``.<plan>.export-*``) holds an ``owner`` file with the
writing process's id and host. A process killed outright (``kill -9``, a power
cut) cannot remove it; the next export of that plan, or ``plan validate``,
removes the staging folders whose owner is no longer running
(:func:`clean_stale_staging`).

Example
-------
>>> blobs = [serialize_part(m) for m in part_models]  # doctest: +SKIP
>>> arts = [artifact_for(i, dev, b) for i, (dev, b) in enumerate(zip(devices, blobs))]  # doctest: +SKIP
>>> export_plan(plan, blobs, "out/plan.json")  # doctest: +SKIP
"""

from __future__ import annotations

__all__ = ["PARTS_DIR", "check_out_path", "check_out_file", "check_out_dir", "serialize_part", "part_path", "artifact_for",
           "export_plan", "write_plan_files", "clean_stale_staging"]

import contextlib
import os
import re
import shutil
import socket
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, cast

from planner_app.core.errors import Problem
from planner_app.core.fileio import sha256_bytes
from planner_app.core.plans.records import Artifact, DeploymentPlan, PlanError, plan_to_json
from planner_app.core.progress import CancelToken, ProgressCallback, report

if TYPE_CHECKING:
    import onnx

#: folder next to the plan that holds its parts
PARTS_DIR = "parts"


def serialize_part(model: onnx.ModelProto | bytes | bytearray) -> bytes:
    """The bytes of an ONNX part as written (``onnx.ModelProto`` or bytes as is)."""
    if isinstance(model, (bytes, bytearray)):
        return bytes(model)
    return cast(bytes, model.SerializeToString())


def part_path(index: int, device: str) -> str:
    """Relative path of stage ``index``'s part: ``parts/stage_00_<device>.onnx``."""
    safe = re.sub(r"[^A-Za-z0-9_.\-]", "-", device)
    return f"{PARTS_DIR}/stage_{index:02d}_{safe}.onnx"


def artifact_for(index: int, device: str, data: bytes) -> Artifact:
    """The :class:`Artifact` record of a part's bytes."""
    return Artifact(path=part_path(index, device), sha256=sha256_bytes(data), bytes=len(data))


def _check_can_create_in(target: Path, what: str, option: str) -> None:
    """Refuse ``target`` when the nearest existing folder above it is a file or cannot take new files.

    Writes (and removes) a probe file there: ``os.access`` says yes to root on
    read-only and virtual file systems such as /proc.
    """
    for parent in target.absolute().parents:
        if not (parent.exists() or parent.is_symlink()):
            continue
        if not parent.is_dir():
            raise PlanError(f"cannot write {what} {str(target)!r}: {str(parent)!r} is a file, not a folder; "
                            f"give another path with {option}")
        try:
            fd, probe = tempfile.mkstemp(prefix=".edgeplan-probe-", dir=parent)
        except OSError as exc:
            raise PlanError(f"cannot write {what} {str(target)!r}: folder {str(parent)!r} does not accept new "
                            f"files ({exc.strerror or exc}); give a writable path with {option}") from None
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(probe)
        return


def check_out_file(out: str | os.PathLike[str], what: str = "the output", option: str = "--out") -> Path:
    """Refuse, before any work, an output file that cannot be written (a folder, under a file, read-only)."""
    target = Path(out)
    if target.is_dir():
        raise PlanError(f"cannot write {what} {str(target)!r}: it is a folder; give a file name with {option}, "
                        f"such as {target / ('out' + (target.suffix or '.json'))}")
    _check_can_create_in(target, what, option)
    return target


def check_out_dir(out: str | os.PathLike[str], what: str = "the parts", option: str = "--out") -> Path:
    """Refuse, before any work, an output folder that cannot be written (an existing file, read-only)."""
    target = Path(out)
    if (target.exists() or target.is_symlink()) and not target.is_dir():
        raise PlanError(f"cannot write {what} into {str(target)!r}: it is a file, not a folder; give a folder "
                        f"with {option} (it is created when missing)")
    if target.is_dir():
        _check_can_create_in(target / "probe", what, option)
    else:
        _check_can_create_in(target, what, option)
    return target


def check_out_path(out: str | os.PathLike[str]) -> Path:
    """Refuse, before any work, a plan path that cannot be written (wrong suffix, a folder, a file as folder)."""
    target = Path(out)
    if target.suffix.lower() != ".json":
        raise PlanError(f"plan output {str(target)!r} must end in .json (the parts go next to it in {PARTS_DIR}/)")
    if target.is_dir():
        raise PlanError(f"plan output {str(target)!r} is a folder: give a file name such as {target / 'plan.json'}")
    _check_can_create_in(target, "the plan", "--out")
    return target


#: the file in a staging folder naming the process that writes it: "<pid> <host>"
_OWNER = ".owner"
#: a staging folder without an owner file (killed before writing it) is stale after this long
_UNOWNED_STALE_S = 600.0


def _staging_prefix(target: Path) -> str:
    return f".{target.stem}.export-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    except (OSError, OverflowError, ValueError):
        return False
    return True


def _is_stale(staging: Path) -> bool:
    try:
        text = (staging / _OWNER).read_text(encoding="ascii", errors="replace")[:200]
    except FileNotFoundError:
        try:
            return time.time() - staging.stat().st_mtime > _UNOWNED_STALE_S
        except OSError:
            return False
    except OSError:
        return False
    pid_text, _, host = text.strip().partition(" ")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False  # written on another machine (a shared folder): not ours to judge
    pid = int(pid_text)
    return pid != os.getpid() and not _alive(pid)


def clean_stale_staging(plan: str | os.PathLike[str]) -> list[str]:
    """Remove the staging folders an interrupted export of ``plan`` left next to it; their names.

    Only folders named like this plan's staging (``.<stem>.export-*``), real
    folders (not symlinks), whose owner process is gone (or, with no owner
    file, older than ten minutes) are removed.
    """
    target = Path(plan)
    folder = target.parent if str(target.parent) else Path(".")
    removed: list[str] = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    prefix = _staging_prefix(target)
    for entry in entries:
        if not entry.name.startswith(prefix) or entry.is_symlink() or not entry.is_dir():
            continue
        if _is_stale(entry):
            shutil.rmtree(entry, ignore_errors=True)
            if not entry.exists():
                removed.append(entry.name)
    return removed


def _fsync_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def export_plan(
    plan: DeploymentPlan,
    parts: Sequence[onnx.ModelProto | bytes | bytearray],
    out: str | os.PathLike[str],
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> Path:
    """Write ``plan`` to ``out`` and ``parts[i]`` to ``stages[i].artifact.path``.

    Parts are ONNX bytes (or ``ModelProto``); each must hash to its stage's
    ``artifact.sha256``, so the plan never names a file it does not describe.
    Returns the plan's path. Raises :class:`PlanError` before touching the target
    folder when the plan and parts disagree.
    """
    target = check_out_path(out)
    problems = plan.consistency_problems()
    if problems:
        raise PlanError("cannot export the plan: it contradicts itself", problems=problems)
    blobs = [serialize_part(p) for p in parts]
    # a plan has a part file for every stage, or none (a model described by measurements only)
    artifacts = [s.artifact for s in plan.stages if s.artifact is not None]
    if len(blobs) != len(artifacts):
        problems.append(Problem("stages", f"{len(artifacts)} part files are named by the stages but "
                                f"{len(blobs)} parts were given"))
    for i, (art, data) in enumerate(zip(artifacts, blobs, strict=False)):
        if sha256_bytes(data) != art.sha256 or len(data) != art.bytes:
            problems.append(Problem(f"stages[{i}].artifact", "the part's bytes do not match its sha256/bytes"))
    if problems:
        raise PlanError("cannot export the plan: it does not match its parts", problems=problems)
    return write_plan_files(target, plan_to_json(plan), artifacts, blobs, progress=progress, cancel=cancel)


def write_plan_files(
    target: Path,
    document: dict[str, object],
    artifacts: Sequence[Artifact],
    blobs: Sequence[bytes],
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> Path:
    """Write a plan document and its part files all or nothing (see the module docstring).

    The caller has checked that ``blobs[i]`` hashes to ``artifacts[i]``; the joint plan
    (:mod:`~planner_app.core.plans.joint`) writes through here too.
    """
    import json

    # what moves into place: the first component of every artifact path (the parts folder, or a file);
    # a plan without parts still replaces the parts folder a previous export left there
    top_dirs = sorted({Path(a.path).parts[0] for a in artifacts}) or [PARTS_DIR]
    if any(d == target.name or d.startswith(".") for d in top_dirs):
        raise PlanError("cannot export the plan: it does not match its parts", problems=[
            Problem("stages[].artifact.path", f"a part path starts with {target.name!r} or a hidden name")])

    folder = target.parent if str(target.parent) else Path(".")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        clean_stale_staging(target)
        staging = Path(tempfile.mkdtemp(prefix=_staging_prefix(target), dir=folder))
    except OSError as exc:
        raise PlanError(f"cannot write the plan into {str(folder)!r}: {exc.strerror or exc}; give a writable "
                        "folder with --out") from None
    try:
        (staging / _OWNER).write_text(f"{os.getpid()} {socket.gethostname()}\n", encoding="ascii")
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    moved: list[tuple[Path, Path]] = []  # (old location, parked location) for roll-back
    placed: list[Path] = []
    try:
        for i, (art, data) in enumerate(zip(artifacts, blobs, strict=True)):
            if cancel is not None:
                cancel.raise_if_cancelled()
            _fsync_write(staging / art.path, data)
            report(progress, (i + 1) / (len(blobs) + 1), f"wrote {art.path}")
        text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
        _fsync_write(staging / target.name, text.encode("utf-8"))
        if cancel is not None:
            cancel.raise_if_cancelled()
        # commit: park what the new files replace, move the new ones in, then drop the old
        parked = staging / ".previous"
        parked.mkdir()
        for d in top_dirs:
            if (folder / d).exists() or (folder / d).is_symlink():
                os.replace(folder / d, parked / d)
                moved.append((folder / d, parked / d))
            if (staging / d).exists():
                os.replace(staging / d, folder / d)
                placed.append(folder / d)
        os.replace(staging / target.name, target)
        placed.clear()
        moved.clear()
        report(progress, 1.0, f"wrote {target}")
        return target
    except BaseException as exc:
        for p in placed:  # roll back: the target folder must look as it did
            with contextlib.suppress(OSError):
                shutil.rmtree(p)
        for old, parked_at in moved:
            with contextlib.suppress(OSError):
                os.replace(parked_at, old)
        if isinstance(exc, OSError):  # a full disk, a folder made read-only meanwhile
            where = exc.filename or folder
            raise PlanError(f"cannot write the plan {str(target)!r}: {exc.strerror or exc} ({where}); nothing was "
                            "changed in its folder. Free space or give another folder with --out") from None
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
