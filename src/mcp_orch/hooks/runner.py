"""What the installed hooks do on a commit: the quality gate and the feedback loop (AC2.3, AC3).

Stages. The message, and so its trailers, exists only from ``commit-msg`` on, and a commit has
a hash only in ``post-commit``; so:

- ``commit-msg`` finds the task the commit belongs to (a ``Task: ID`` trailer, else a task ID
  in the branch name, else the committing agent's single in-progress task), runs the quality
  gate, and on failure writes the feedback file, sends the task back to ready with the feedback
  attached and blocks the commit with the gate's own exit code. On success it leaves a note
  for ``post-commit`` in ``.mcp/.cache/``.
- ``post-commit`` (only after our ``commit-msg`` passed for the very tree that was committed)
  resolves the task's open test feedback, records the Git Context and applies a
  ``Task-Status:`` trailer.

What the hooks change, and where it ends up: only the board (the task's file under
``.mcp/tasks/``, its feedback file under ``.mcp/feedback/<ID>/``) and ``.mcp/.cache/``. They
never stage, unstage, stash or rewrite anything of yours, so your staged and unstaged changes
stay exactly as they were. A commit's own hash cannot be inside that commit, so the board
changes a hook makes are left as ordinary working-tree changes, announced on stderr
("mcp-orch: ... board changed: <files>"); commit them with your next change, as with any
``orch`` command. ``ORCH_HOOKS=0`` turns this module off; ``git commit --no-verify`` skips the
gate and, because no ``commit-msg`` note is left, the ``post-commit`` part too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence

from ..domain.errors import BoardNotFound, OrchError
from ..domain.ids import looks_like_id, normalize_id
from ..domain.model import Status
from . import gitinfo

TYPE_CHECKING = False
if TYPE_CHECKING:  # importing typing costs ~5 ms of a hook that should add almost nothing
    from typing import IO

    from ..service import Service

ENV_HOOKS = "ORCH_HOOKS"
ENV_AGENT = "ORCH_AGENT"
PENDING = "mcp-orch-pending.json"  # in the git dir: per worktree, seen by the hook wrappers
HOOK_AGENT = "git-hook"


def disabled(env: Mapping[str, str]) -> bool:
    return env.get(ENV_HOOKS, "").strip().lower() in ("0", "false", "no", "off")


def run(
    stage: str,
    args: Sequence[str],
    open_service: Callable[[], Service],
    env: Mapping[str, str] | None = None,
    err: IO[str] | None = None,
) -> int:
    """The hook ``stage`` with git's ``args``; the exit code git should see."""
    environ = os.environ if env is None else env
    out = err or sys.stderr
    if disabled(environ) or stage not in ("commit-msg", "post-commit"):
        return 0
    head: list[str] = []
    if stage == "post-commit":
        head = gitinfo.git("rev-parse", "--git-path", PENDING, "HEAD", "HEAD^{tree}").split("\n")
        if len(head) != 3 or not os.path.isfile(head[0]):
            return 0  # our commit-msg did not pass this commit (--no-verify, no task, disabled)
    try:
        service = open_service()
    except BoardNotFound:
        return 0  # not an mcp-orch project (or not yet): nothing to do, nothing to block
    hook = _Hook(service, environ, out)
    if stage == "commit-msg":
        return hook.commit_msg(args[0] if args else ".git/COMMIT_EDITMSG")
    return hook.post_commit(os.path.abspath(head[0]), head[1], head[2])


class _Hook:
    def __init__(self, service: Service, env: Mapping[str, str], out: IO[str]) -> None:
        self.service = service
        self.env = env
        self.out = out
        self.root = service.root or os.getcwd()
        raw_agent = env.get(ENV_AGENT) or service.config.raw.get("agent") or ""
        self.agent = str(raw_agent).strip()

    def say(self, text: str) -> None:
        self.out.write(f"mcp-orch: {text}\n")
        self.out.flush()

    # ------------------------------------------------------------------ commit-msg

    def commit_msg(self, message_file: str) -> int:
        info = gitinfo.git("rev-parse", "--git-path", PENDING, "--symbolic-full-name", "HEAD")
        lines = info.split("\n")
        if len(lines) == 2:
            pending, ref = lines
            branch = ref[len("refs/heads/") :] if ref.startswith("refs/heads/") else ""
        else:  # an unborn branch (the first commit): rev-parse cannot name HEAD yet
            pending, branch = gitinfo.git("rev-parse", "--git-path", PENDING), gitinfo.branch()
        pending = os.path.abspath(pending)
        _unlink(pending)  # a note of an earlier, aborted commit must not carry over
        try:
            with open(message_file, encoding="utf-8", errors="replace") as handle:
                message = gitinfo.message_text(handle.read())
        except OSError:
            message = ""
        tags = gitinfo.trailers(message)
        task_id, why = self.find_task(tags, branch)
        if not task_id:
            return 0
        tree = gitinfo.write_tree()
        for command in self.service.config.test_command:
            code, output = run_gate(command, self.root, self.out)
            if code != 0:
                return self.gate_failed(task_id, command, code, output, tree, branch)
        move = tags.get("task-status", "").strip().lower()
        if move and move not in {s.value for s in Status}:
            self.say(f"ignoring 'Task-Status: {move}' (use review or done)")
            move = ""
        note = {
            "task": task_id,
            "tree": tree,
            "branch": branch,
            "move": move,
            "tags": tags,
            "why": why,
        }
        with open(pending, "w", encoding="utf-8") as handle:
            json.dump(note, handle)
        return 0

    def find_task(self, tags: Mapping[str, str], branch: str) -> tuple[str, str]:
        """The task this commit belongs to and why, or ("", "") when it belongs to none."""
        snap = self.service.status()
        known = {t.id for t in snap.tasks}
        named = tags.get("task", "").split()
        if named:
            if looks_like_id(named[0]) and normalize_id(named[0]) in known:
                return normalize_id(named[0]), "Task trailer"
            self.say(f"'Task: {named[0]}' names no task on the board; commit left alone")
            return "", ""
        for word in gitinfo.ids_in(branch, self.service.config.id_prefix):
            if looks_like_id(word) and normalize_id(word) in known:
                return normalize_id(word), f"branch {branch}"
        if self.agent:
            held = [
                t.id for t in snap.tasks if t.status is Status.IN_PROGRESS and t.agent == self.agent
            ]
            if len(held) == 1:
                return held[0], f"{self.agent}'s in-progress task"
        return "", ""

    def gate_failed(
        self, task_id: str, command: str, code: int, output: str, tree: str, branch: str
    ) -> int:
        from .feedback import GateFailure, summary, write
        from .parsing import parse

        failure = GateFailure(
            task_id=task_id,
            attempt=self.service.test_attempt(task_id),
            command=command,
            exit_code=code,
            output=output,
            report=parse(output),
            tree=tree,
            parent=gitinfo.git("rev-parse", "-q", "--verify", "HEAD"),
            branch=branch,
            at=self.service.now(),
        )
        try:
            ref = write(self.root, failure)
            task = self.service.test_failed(
                task_id,
                agent=self.agent or HOOK_AGENT,
                summary=summary(failure),
                detail=failure.report.first_error,
                ref=ref,
            )
        except OrchError as exc:
            self.say(f"could not record the failure on the board: {exc.message}")
        else:
            self.say(
                f"`{command}` failed (exit {code}): commit blocked. {task.id} is "
                f"{task.status.value} with the feedback {ref}"
            )
            self.say(f"board changed: {ref}, .mcp/tasks/ ({task.id}); commit them with the fix")
        return code if 0 < code < 256 else 1

    # ------------------------------------------------------------------ post-commit

    def post_commit(self, pending: str, commit: str, tree: str) -> int:
        try:
            with open(pending, encoding="utf-8") as handle:
                note = json.load(handle)
        except (OSError, ValueError):
            return 0
        _unlink(pending)
        if tree != note.get("tree"):
            return 0  # not the commit our commit-msg passed
        tags: dict[str, str] = note.get("tags") or {}
        branch = str(note.get("branch") or "")
        try:
            task, warning = self.service.tests_passed(
                note["task"],
                agent=self.agent or HOOK_AGENT,
                branch=branch,
                commit=commit,
                pr=gitinfo.pr_number(branch, tags, self.env),
                move_to=note.get("move") or None,
            )
        except OrchError as exc:
            self.say(f"could not record commit {commit[:12]}: {exc.message}")
            return 0
        if warning:
            self.say(f"{task.id}: {warning}")
        self.say(
            f"{task.id} ({task.status.value}): recorded commit {commit[:12]}; "
            "board changed: .mcp/tasks/ (commit it with your next change)"
        )
        return 0


def run_gate(command: str, cwd: str, out: IO[str]) -> tuple[int, str]:
    """Run one quality-gate command as a shell would, echoing its output; (exit code, output)."""
    proc = subprocess.Popen(
        command,
        shell=True,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    chunks: list[bytes] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        chunks.append(line)
        out.write(line.decode("utf-8", "replace"))
    out.flush()
    return proc.wait(), b"".join(chunks).decode("utf-8", "replace")


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
