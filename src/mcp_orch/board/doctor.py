"""``orch doctor``: find what is wrong with a file board, and repair what is safe to repair.

Safe repairs: merge copies of one task (a git merge), read through conflict markers, rewrite a
status line to match its folder, rename a file to the ID it holds, finish an interrupted move.
Everything else (unparseable files, unknown dependencies, cycles) is reported with what to do:
no file that could not be parsed is ever rewritten, moved or deleted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ..domain import transitions
from ..domain.errors import MalformedTask
from ..domain.model import ALL_STATUSES, Status, Task
from ..domain.policy import find_cycle
from . import format as fmt
from .files import FileStore, in_folder, slug
from .merge import merge_versions, parse_versions

_TMP_RE = re.compile(r"^\..+\.\d+\.tmp$")


@dataclass(kw_only=True, slots=True)
class Finding:
    kind: str
    message: str
    hint: str = ""
    path: str = ""
    fixed: bool = False

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "message": self.message,
            "hint": self.hint,
            "path": self.path,
            "fixed": self.fixed,
        }


@dataclass(kw_only=True, slots=True)
class Report:
    findings: list[Finding] = field(default_factory=list)
    tasks: int = 0

    @property
    def ok(self) -> bool:
        return all(f.fixed for f in self.findings)


def _read_all(store: FileStore) -> tuple[dict[str, list[tuple[str, list[Task]]]], list[Finding]]:
    """Every task file's versions, grouped by ID; unparseable files as findings."""
    groups: dict[str, list[tuple[str, list[Task]]]] = {}
    bad: list[Finding] = []
    for rel in store.task_files():
        path = Path(store.path(rel))
        if True:
            try:
                versions = parse_versions(path.read_text(encoding="utf-8"), rel)
            except (MalformedTask, UnicodeDecodeError, OSError) as exc:
                message = exc.message if isinstance(exc, MalformedTask) else str(exc)
                bad.append(
                    Finding(
                        kind="malformed",
                        message=message,
                        path=rel,
                        hint="fix it by hand; doctor never rewrites a file it cannot parse",
                    )
                )
                continue
            groups.setdefault(versions[0].id, []).append((rel, versions))
    return groups, bad


def check(store: FileStore, *, fix: bool, now: str) -> Report:
    report = Report()
    if fix:
        with store.transaction():  # also finishes an interrupted move
            _run(store, report, fix=True, now=now)
    else:
        _run(store, report, fix=False, now=now)
    return report


def _run(store: FileStore, report: Report, *, fix: bool, now: str) -> None:
    _check_layout(store, report, fix)
    groups, bad = _read_all(store)
    report.findings.extend(bad)
    final: dict[str, Task] = {}
    for task_id, copies in groups.items():
        final[task_id] = _check_task(store, report, task_id, copies, fix=fix, now=now)
    report.tasks = len(final)
    _check_dependencies(report, final)


def _check_layout(store: FileStore, report: Report, fix: bool) -> None:
    for status in ALL_STATUSES:
        folder = Path(store.folder(status))
        if not folder.is_dir():
            finding = Finding(
                kind="layout",
                message=f"missing folder tasks/{status.value}/",
                hint="'orch doctor --fix' or 'orch init' creates it",
            )
            if fix:
                folder.mkdir(parents=True, exist_ok=True)
                finding.fixed = True
            report.findings.append(finding)
            continue
        for leftover in folder.iterdir():
            if _TMP_RE.match(leftover.name):
                finding = Finding(
                    kind="leftover",
                    path=f"{status.value}/{leftover.name}",
                    message=f"temp file of an interrupted write: {leftover.name}",
                    hint="'orch doctor --fix' removes it (the task is intact)",
                )
                if fix:
                    leftover.unlink(missing_ok=True)
                    finding.fixed = True
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
    merged = merge_versions(versions) if len(versions) > 1 else versions[0]
    problems: list[Finding] = []
    if len(copies) > 1:
        problems.append(
            Finding(
                kind="duplicate",
                path=copies[0][0],
                message=f"{task_id} exists {len(copies)} times: " + ", ".join(r for r, _ in copies),
                hint="'orch doctor --fix' merges them into one file (folder of the latest move)",
            )
        )
    for rel in conflicted:
        problems.append(
            Finding(
                kind="conflict",
                path=rel,
                message=f"{rel} holds git conflict markers",
                hint="'orch doctor --fix' merges both sides",
            )
        )
    ((rel0, vs0),) = copies[:1]
    expected_name = f"{task_id}-{slug(merged.title)}.md"
    name_ok = all(
        Path(rel).name.lower().startswith(task_id.lower() + "-")
        or Path(rel).name.lower() == task_id.lower() + ".md"
        for rel, _ in copies
    )
    if not name_ok:
        problems.append(
            Finding(
                kind="filename",
                path=rel0,
                message=f"{rel0} holds {task_id} but is named for another ID",
                hint="'orch doctor --fix' renames it to " + expected_name,
            )
        )
    if len(copies) == 1 and not conflicted and vs0[0].status is not folders[0]:
        problems.append(
            Finding(
                kind="status-mismatch",
                path=rel0,
                message=f"{rel0} says '{vs0[0].status.value}' but lies in {folders[0].value}/",
                hint="'orch doctor --fix' records the move and rewrites the status line",
            )
        )
    if problems and fix:
        if len(versions) > 1:
            merged = transitions.record(
                merged,
                "merge",
                agent="doctor",
                now=now,
                note=f"merged {len(versions)} versions of this task",
            )
        elif vs0[0].status is not folders[0]:
            merged = transitions.apply(
                vs0[0], "move", agent="doctor", now=now, target=folders[0], note="moved by hand"
            )
        _repair(store, task_id, copies, merged, expected_name if not name_ok else None, now)
        for finding in problems:
            finding.fixed = True
    report.findings.extend(problems)
    return merged


def _repair(
    store: FileStore,
    task_id: str,
    copies: list[tuple[str, list[Task]]],
    merged: Task,
    new_name: str | None,
    now: str,
) -> None:
    """Write the merged task into its folder first, then remove the other copies."""
    target_name = new_name or Path(copies[0][0]).name
    target = f"{merged.status.value}/{target_name}"
    store.write_raw(target, fmt.render(merged))
    for rel, _ in copies:
        if rel != target:
            store.remove_raw(rel)


def _check_dependencies(report: Report, tasks: dict[str, Task]) -> None:
    graph = {tid: t.depends for tid, t in tasks.items()}
    reported: set[frozenset[str]] = set()
    for tid, task in sorted(tasks.items()):
        for dep in task.depends:
            if dep not in tasks:
                report.findings.append(
                    Finding(
                        kind="unknown-dependency",
                        message=f"{tid} depends on unknown task {dep}",
                        hint=f"create {dep}, or drop it: orch prep {tid} --depends ...",
                    )
                )
        cycle = find_cycle(tid, graph)
        if cycle and frozenset(cycle) not in reported:
            reported.add(frozenset(cycle))
            report.findings.append(
                Finding(
                    kind="cycle",
                    message="dependency cycle: " + " -> ".join(cycle),
                    hint="drop one dependency with 'orch prep ID --depends ...' or edit a file",
                )
            )
