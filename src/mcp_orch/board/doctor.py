"""``orch doctor``: find what is wrong with a file board, and repair what is safe to repair.

Safe repairs: merge copies of one task (a git merge), read through conflict markers, rewrite a
status line to match its folder, rename a file to the ID it holds, finish an interrupted move,
remove the temp files killed writes left (in the task folders, ``.mcp/`` itself, escalations/,
feedback/<ID>/, log/, .cache/ and .secrets/; in .cache/, written without the board's lock,
only once older than ``LEFTOVER_GRACE_S``).
Every repair is one event in the operation log (op ``doctor``). Everything else (unparseable
files, unknown dependencies, cycles, task files git still lists as unmerged) is reported with
what to do: no file that could not be parsed is ever rewritten, moved or deleted, and git's
index is left to the user (doctor never runs ``git add``).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..domain import transitions
from ..domain.errors import MalformedTask, OrchError
from ..domain.events import Event
from ..domain.model import ALL_STATUSES, Status, Task
from ..domain.policy import find_cycle
from ..store import Problem, TaskStore
from . import format as fmt
from .files import FileStore, in_folder, leftovers, noticed_at, slug
from .index import not_utf8
from .merge import OTHER_SIDE, Merged, merge, parse_versions

_TMP_RE = re.compile(r"^\..+\.\d+\.tmp$")  # what ``fsutil.atomic_write`` writes aside
# Besides tasks/<status>/ and .mcp/ itself, the folders orch writes atomically into (and
# every feedback/<ID>/ folder): where a killed write leaves its temp file.
_WRITTEN = ("escalations", "log", ".cache", ".secrets")
# Every write into those folders holds the board's lock, as --fix does, so no write can be
# going on while it runs: a temp file there is a killed write's. Except in these, written
# without the lock (the config's cache): there a temp file younger than the grace period may
# be a write still going on, and --fix leaves it alone (a write takes milliseconds).
_UNLOCKED = (".cache",)
LEFTOVER_GRACE_S = 60.0
# Advice rather than a fault of the board: reported, but the board is healthy without it.
_ADVICE = frozenset({"git-unmerged", "leftover-recent"})


Finding = Problem  # doctor's findings are the store's problems (``fixed``: repaired)


@dataclass(kw_only=True, slots=True)
class Report:
    findings: list[Finding] = field(default_factory=list)
    tasks: int = 0

    @property
    def ok(self) -> bool:
        return all(f.fixed or f.kind in _ADVICE for f in self.findings)


def _read_all(store: FileStore) -> tuple[dict[str, list[tuple[str, list[Task]]]], list[Finding]]:
    """Every task file's versions, grouped by ID; unparseable files as findings."""
    groups: dict[str, list[tuple[str, list[Task]]]] = {}
    bad: list[Finding] = []
    for rel in store.task_files():
        path = Path(store.path(rel))
        warnings: list[fmt.ParseWarning] = []
        try:
            versions = parse_versions(path.read_text(encoding="utf-8"), rel, warnings)
        except (MalformedTask, UnicodeDecodeError, OSError) as exc:
            bad.append(
                Problem(
                    kind="malformed",
                    message=_unreadable(rel, exc),
                    path=rel,
                    hint="fix it by hand; doctor never rewrites a file it cannot parse",
                )
            )
            continue
        bad += [Problem(kind=k, message=m, hint=h, path=rel) for k, m, h, _ in warnings]
        groups.setdefault(versions[0].id, []).append((rel, versions))
    return groups, bad


def _unreadable(rel: str, exc: Exception) -> str:
    """Why the file at ``rel`` cannot be read, naming that file (never another one)."""
    if isinstance(exc, MalformedTask):
        return exc.message
    if isinstance(exc, UnicodeDecodeError):
        return not_utf8(rel, exc)
    if isinstance(exc, IsADirectoryError):
        return f"{rel}: a folder named like a task file (only files hold tasks)"
    assert isinstance(exc, OSError)
    return f"{rel}: {exc.strerror or exc}"


def board_of(store: TaskStore) -> FileStore:
    """The file board behind ``store`` (its declared ``board`` capability), or why not."""
    board = store.extras("board")
    if not isinstance(board, FileStore):
        raise OrchError(
            f"doctor checks the file board; this store is {store.url}",
            "a database checks itself; run doctor on a project whose store is files",
        )
    return board


def check(store: FileStore, *, fix: bool, now: str) -> Report:
    report = Report()
    if fix:
        with store.transaction():  # also finishes an interrupted move
            _run(store, report, fix=True, now=now)
    else:
        _run(store, report, fix=False, now=now)
    return report


def _run(store: FileStore, report: Report, *, fix: bool, now: str) -> None:
    _check_layout(store, report, fix=fix, now=now)
    groups, bad = _read_all(store)
    report.findings.extend(bad)
    final: dict[str, Task] = {}
    for task_id, copies in groups.items():
        final[task_id] = _check_task(store, report, task_id, copies, fix=fix, now=now)
    report.tasks = len(final)
    _check_dependencies(report, final)
    _check_git_index(store, report)
    _check_log(store, report, fix=fix, now=now)


def _log(store: FileStore, now: str, note: str, **fields: str) -> None:
    """One repair, one event in the operation log (``orch log``), like every other change."""
    event = Event(at=now, agent="doctor", op="doctor", note=" ".join(note.split())[:500], **fields)
    store.record(event)


def _check_layout(store: FileStore, report: Report, *, fix: bool, now: str) -> None:
    for status in ALL_STATUSES:
        folder = Path(store.folder(status))
        if not folder.is_dir():
            finding = Problem(
                kind="layout",
                message=f"missing folder tasks/{status.value}/",
                hint="'orch doctor --fix' or 'orch init' creates it",
            )
            if fix:
                folder.mkdir(parents=True, exist_ok=True)
                finding = finding._replace(fixed=True)
                _log(store, now, f"created the missing folder tasks/{status.value}/")
            report.findings.append(finding)
            continue
        for leftover in folder.iterdir():
            if _TMP_RE.match(leftover.name):
                _leftover(store, report, leftover, f"tasks/{status.value}/", fix=fix, now=now)
    for name in leftovers(store.root):
        _leftover(store, report, Path(store.root) / name, "", fix=fix, now=now)
    for folder in _written_folders(Path(store.root)):
        where = folder.relative_to(store.root).as_posix() + "/"
        for leftover in _temp_files(folder):
            _leftover(store, report, leftover, where, fix=fix, now=now)


def _written_folders(root: Path) -> list[Path]:
    """The folders besides the task folders where a write may leave a temp file."""
    folders = [root / name for name in _WRITTEN]
    try:
        feedback = sorted(os.scandir(root / "feedback"), key=lambda e: e.name)
    except OSError:
        feedback = []  # no attachments yet
    folders += [Path(e.path) for e in feedback if e.is_dir(follow_symlinks=False)]
    return folders


def _temp_files(folder: Path) -> list[Path]:
    """The temp files ``atomic_write`` may have left in ``folder`` (regular files only: a
    symlink or a folder of that name is not one of ours)."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    return sorted(
        Path(e.path) for e in entries if _TMP_RE.match(e.name) and e.is_file(follow_symlinks=False)
    )


def _leftover(
    store: FileStore, report: Report, leftover: Path, where: str, *, fix: bool, now: str
) -> None:
    """A temp file of a write killed before it finished: named, and removed with --fix (in a
    folder written without the board's lock, once older than the grace period: a younger one
    may be a write still going on)."""
    rel = where + leftover.name
    board = not where or where.startswith("tasks/")  # a task's write (or the move journal's)
    path = rel.removeprefix("tasks/") if board else rel
    age = LEFTOVER_GRACE_S
    if where.rstrip("/") in _UNLOCKED:
        try:
            age = time.time() - leftover.lstat().st_mtime  # the file system's clock
        except OSError:
            return  # gone meanwhile: its write finished
    if age < LEFTOVER_GRACE_S:
        report.findings.append(
            Problem(
                kind="leftover-recent",
                path=path,
                message=f".mcp/{rel}: temp file of a write {max(age, 0):.0f} s old; it may "
                "still be in progress, so it is left alone",
                hint=f"if it is still there {LEFTOVER_GRACE_S:.0f} s after it was written, "
                "'orch doctor --fix' removes it",
            )
        )
        return
    intact = "the task itself is intact" if board else "the file it was writing is intact"
    finding = Problem(
        kind="leftover",
        path=path,
        message=f".mcp/{rel}: temp file of an interrupted write ({intact})",
        hint="'orch doctor --fix' removes it",
    )
    if fix:
        leftover.unlink(missing_ok=True)
        finding = finding._replace(fixed=True)
        shown = finding.path if where.startswith("tasks/") else f".mcp/{rel}"
        _log(store, now, f"removed {shown}, left by an interrupted write")
    report.findings.append(finding)


def _check_task(
    store: FileStore,
    report: Report,
    task_id: str,
    copies: list[tuple[str, list[Task]]],
    *,
    fix: bool,
    now: str,
) -> Task:
    folders = [Status(rel.split("/", 1)[0]) for rel, _ in copies]
    # A clean copy's folder is its status (a hand move); the sides of a conflicted copy are the
    # branches' own versions, and git put the copy in a folder of its choosing: their status
    # lines say where each branch moved the task, so the later move can win.
    versions = [
        v if len(vs) > 1 else in_folder(v, folder)
        for (_, vs), folder in zip(copies, folders, strict=True)
        for v in vs
    ]
    versions = list(dict.fromkeys(versions))  # both copies of a rename conflict hold both sides
    conflicted = [rel for rel, vs in copies if len(vs) > 1]
    result = merge(versions) if len(versions) > 1 else Merged(task=versions[0])
    merged = result.task
    problems: list[Finding] = []
    if len(copies) > 1:
        problems.append(
            Problem(
                kind="duplicate",
                path=copies[0][0],
                message=f"{task_id} exists {len(copies)} times: " + ", ".join(r for r, _ in copies),
                hint="'orch doctor --fix' merges them into one file (folder of the latest move)",
            )
        )
    for rel in conflicted:
        problems.append(
            Problem(
                kind="conflict",
                path=rel,
                message=f"{rel} holds git conflict markers",
                hint="'orch doctor --fix' merges both sides",
            )
        )
    ((rel0, vs0),) = copies[:1]
    expected_name = f"{task_id}-{slug(merged.title)}.md"
    misnamed = [
        rel
        for rel, _ in copies
        if not (
            Path(rel).name.lower().startswith(task_id.lower() + "-")
            or Path(rel).name.lower() == task_id.lower() + ".md"
        )
    ]
    if misnamed:
        problems.append(
            Problem(
                kind="filename",
                path=misnamed[0],
                message=f"{', '.join(misnamed)} holds {task_id} but is named for another ID",
                hint="'orch doctor --fix' renames it to " + expected_name,
            )
        )
    if len(copies) == 1 and not conflicted and vs0[0].status is not folders[0]:
        problems.append(
            Problem(
                kind="status-mismatch",
                path=rel0,
                message=f"{rel0} says '{vs0[0].status.value}' but lies in {folders[0].value}/",
                hint="'orch doctor --fix' records the move and rewrites the status line",
            )
        )
    if problems and fix:
        merged = _fix_task(store, copies, versions, result, problems, expected_name, now=now)
    report.findings.extend(problems)
    return merged


def _fix_task(
    store: FileStore,
    copies: list[tuple[str, list[Task]]],
    versions: list[Task],
    result: Merged,
    problems: list[Finding],
    expected_name: str,
    *,
    now: str,
) -> Task:
    """Repair one task's files; its first finding says, and the log records, what was done."""
    rel0, versions0 = copies[0]
    folder0 = Status(rel0.split("/", 1)[0])
    merged = result.task
    moved_from = kept = ""
    if len(versions) > 1:
        if result.kept:
            kept = f"the other side's differing {_and(result.kept)} kept under '## {OTHER_SIDE}'"
        merged = transitions.record(
            merged,
            "merge",
            actor="doctor",
            now=now,
            note=f"merged {len(versions)} versions of this task" + (f"; {kept}" if kept else ""),
        )
        sources = {rel.split("/", 1)[0] for rel, _ in copies} - {merged.status.value}
        moved_from = sources.pop() if len(sources) == 1 else ""
    elif versions0[0].status is not folder0:
        at = noticed_at(now, versions0[0])  # never before the entry it follows
        merged = transitions.apply(
            versions0[0], "move", actor="doctor", now=at, target=folder0, note="moved by hand"
        )
        moved_from = versions0[0].status.value
    name_ok = all(f.kind != "filename" for f in problems)
    target = "tasks/" + _repair(store, copies, merged, None if name_ok else expected_name)
    if len(versions) > 1:
        done = f"merged {len(versions)} versions into {target} (the later move); "
        done += f"{kept} there" if kept else "no text differed between them"
    elif moved_from:
        done = f"status line set to '{folder0.value}' in {target} (the move is in its history)"
    else:
        done = f"renamed to {target}"
    if not name_ok and (len(versions) > 1 or moved_from):
        done += f"; renamed to {expected_name}"
    first = problems[0]
    problems[:] = [p._replace(fixed=True) for p in problems]
    problems[0] = problems[0]._replace(message=f"{first.message} -> {done}")
    _log(
        store,
        now,
        problems[0].message,
        task=merged.id,
        from_status=moved_from,
        to_status=merged.status.value if moved_from else "",
    )
    return merged


def _and(names: tuple[str, ...] | list[str]) -> str:
    return ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else "".join(names)


def _repair(
    store: FileStore, copies: list[tuple[str, list[Task]]], merged: Task, new_name: str | None
) -> str:
    """Write the merged task into its folder first, then remove the other copies."""
    target_name = new_name or Path(copies[0][0]).name
    target = f"{merged.status.value}/{target_name}"
    store.write_raw(target, fmt.render(merged), like=copies[0][0])
    for rel, _ in copies:
        if rel != target:
            store.remove_raw(rel)
    return target


def _check_dependencies(report: Report, tasks: dict[str, Task]) -> None:
    graph = {tid: t.depends for tid, t in tasks.items()}
    reported: set[frozenset[str]] = set()
    for tid, task in sorted(tasks.items()):
        for dep in task.depends:
            if dep not in tasks:
                report.findings.append(
                    Problem(
                        kind="unknown-dependency",
                        message=f"{tid} depends on unknown task {dep}",
                        hint=f"create {dep}, or drop it: orch prep {tid} --depends ...",
                    )
                )
        cycle = find_cycle(tid, graph)
        if cycle and frozenset(cycle) not in reported:
            reported.add(frozenset(cycle))
            report.findings.append(
                Problem(
                    kind="cycle",
                    message="dependency cycle: " + " -> ".join(cycle),
                    hint="drop one dependency with 'orch prep ID --depends ...' or edit a file",
                )
            )


def _check_log(store: FileStore, report: Report, *, fix: bool, now: str) -> None:
    """Torn lines in the operation log (see ``oplog``); a repair drops only their pieces."""
    from . import oplog

    try:
        with open(store.log_path, "rb") as handle:
            data = handle.read()
    except OSError:
        return  # no log yet (or none readable: every command says so when it writes)
    torn, repaired = oplog.scan(data)
    if not torn:
        return
    shown = ", ".join(str(t.line) for t in torn[:10]) + (" ..." if len(torn) > 10 else "")
    swallowed = sum(t.kept for t in torn)
    finding = Problem(
        kind="torn-log-line",
        path="log/orch.jsonl",
        message=f"the operation log has {len(torn)} torn line(s) (pieces of events a full disk "
        f"or a killed process left unfinished), line(s) {shown}"
        + (f"; {swallowed} of them also hold a whole event, kept" if swallowed else ""),
        hint="'orch doctor --fix' removes the pieces and keeps every whole event",
    )
    if fix:
        store.rewrite_log(repaired)
        finding = finding._replace(fixed=True, message=finding.message + " -> removed the pieces")
        _log(store, now, f"removed {len(torn)} torn piece(s) from the operation log")
    report.findings.append(finding)


def _check_git_index(store: FileStore, report: Report) -> None:
    """Task files git's index still lists as unmerged: the user concludes the merge, not doctor.

    After a repair git still sees the conflict until the paths are added; saying so (and how)
    keeps a user from committing half a merge or wondering why ``git status`` disagrees.
    """
    try:
        proc = subprocess.run(
            ["git", "ls-files", "--unmerged", "-z", "--", "tasks"],
            cwd=store.root,
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return  # no git: nothing to say about its index
    entries = proc.stdout.split("\0") if proc.returncode == 0 else []
    paths = sorted({e.split("\t", 1)[1] for e in entries if "\t" in e})
    if not paths:
        return
    shown = [os.path.relpath(os.path.join(store.root, p)) for p in paths]
    finish = f"git add -A {shlex.quote(os.path.relpath(store.tasks_dir))} && git commit"
    pending = any(f.kind in ("conflict", "duplicate") and not f.fixed for f in report.findings)
    report.findings.append(
        Problem(
            kind="git-unmerged",
            path=paths[0].removeprefix("tasks/"),
            message=f"git still lists {len(paths)} task file(s) as unmerged: " + ", ".join(shown),
            hint=(
                f"run 'orch doctor --fix', then finish the merge: {finish}"
                if pending
                else f"the board is repaired; finish the merge: {finish}"
            ),
        )
    )
