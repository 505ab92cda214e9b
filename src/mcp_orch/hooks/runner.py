"""What the installed hooks do on a commit: the quality gate and the feedback loop (AC2.3, AC3).

Stages. The message, and so its trailers, exists only from ``commit-msg`` on, and a commit has
a hash only in ``post-commit``; so:

- ``commit-msg`` finds the task the commit belongs to (a ``Task: ID`` trailer, else a task ID
  in the branch name, else the committing agent's single in-progress task, else, holding none,
  its single task a failed gate sent back), runs the quality gate at the top of the worktree
  being committed (linked worktrees share the main tree's board, not its files) without git's
  repository-local variables, and on failure writes the feedback file, sends the task back to
  ready with the feedback attached and blocks the commit with the gate's own exit code. On
  success it leaves a note for ``post-commit`` in the worktree's git dir.
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

from ..board.fsutil import remove_if_present
from ..domain.errors import BoardNotFound, OrchError
from ..domain.model import Status
from ..domain.roles import HOOK_AGENT  # a commit whose agent is unknown: counts as a person
from . import gitinfo

TYPE_CHECKING = False
if TYPE_CHECKING:  # importing typing costs ~5 ms of a hook that should add almost nothing
    from typing import IO

    from ..service import Service

ENV_HOOKS = "ORCH_HOOKS"
ENV_AGENT = "ORCH_AGENT"
PENDING = "mcp-orch-pending.json"  # in the git dir: per worktree, seen by the hook wrappers


def disabled(env: Mapping[str, str]) -> bool:
    return env.get(ENV_HOOKS, "").strip().lower() in ("0", "false", "no", "off")


def run(
    stage: str,
    args: Sequence[str],
    open_service: Callable[[], Service],
    env: Mapping[str, str] | None = None,
    err: IO[str] | None = None,
) -> int:
    """The hook ``stage`` with git's ``args``; the exit code git should see.

    What orch cannot make sense of (no board, no repository, no message file) never blocks a
    commit: it lets it through, at most with one line saying why.
    """
    environ = os.environ if env is None else env
    out = err or sys.stderr
    if disabled(environ) or stage not in ("commit-msg", "post-commit"):
        return 0
    head: list[str] = []
    if stage == "post-commit":
        head = gitinfo.git(
            "rev-parse", "--show-toplevel", "--git-path", PENDING, "HEAD", "HEAD^{tree}"
        ).split("\n")
        if len(head) != 4 or not os.path.isfile(head[1]):
            return 0  # our commit-msg did not pass this commit (--no-verify, no task, disabled)
        place = gitinfo.Place(head[0], head[1], "", "")
    else:
        place = gitinfo.place(PENDING)
    try:
        service = open_service()
    except BoardNotFound:
        return 0  # not an mcp-orch project (or not yet): nothing to do, nothing to block
    hook = _Hook(service, place.top, environ, out)
    if not place.top:
        hook.say("not inside a git repository; nothing to check")
        return 0
    if stage == "commit-msg":
        code = hook.commit_msg(place, args[0] if args else place.message)
    else:
        code = hook.post_commit(os.path.abspath(place.pending), head[2], head[3])
    for warning in service.take_warnings():  # what took effect but could not all be written
        hook.say(f"warning: {warning}")
    return code


def project_root(service: Service) -> str:
    """The folder that holds the file board (""  when the store is not the file board)."""
    from ..board.files import FileStore  # loaded already: the service opened it

    board = service.store.extras("board")
    return os.path.dirname(board.root) if isinstance(board, FileStore) else ""


class _Hook:
    def __init__(self, service: Service, top: str, env: Mapping[str, str], out: IO[str]) -> None:
        self.service = service
        self.env = env
        self.out = out
        # Every worktree shares the main tree's board (``root``), but git runs hooks at the top
        # of the worktree being committed (``top``): the gate tests that one.
        self.top = top or os.getcwd()
        self.root = project_root(service) or self.top
        raw_agent = env.get(ENV_AGENT) or service.config.raw.get("agent") or ""
        self.agent = str(raw_agent).strip()

    def say(self, text: str) -> None:
        self.out.write(f"mcp-orch: {text}\n")
        self.out.flush()

    def shown(self, ref: str) -> str:
        """A board path (relative to the board's root) as the committer finds it: relative to
        the worktree's top when the board is inside it, else absolute (the main tree's board
        seen from a linked worktree)."""
        if not ref.startswith(".mcp/"):
            return ref  # kept by a store that is not the file board (attachment:...)
        path = os.path.realpath(os.path.join(self.root, ref))
        inside = os.path.relpath(path, os.path.realpath(self.top))
        outside = inside == os.pardir or inside.startswith(os.pardir + os.sep)
        return (path if outside else inside) + ("/" if ref.endswith("/") else "")

    # ------------------------------------------------------------------ commit-msg

    def commit_msg(self, place: gitinfo.Place, message_file: str) -> int:
        pending = os.path.abspath(place.pending)
        remove_if_present(pending)  # a note of an earlier, aborted commit must not carry over
        try:
            with open(message_file, encoding="utf-8", errors="replace") as handle:
                message = gitinfo.message_text(handle.read())
        except OSError as exc:
            why = exc.strerror or type(exc).__name__
            self.say(f"cannot read the commit message {message_file} ({why}); not checked")
            return 0
        branch = place.branch
        tags = gitinfo.trailers(message)
        owner = self.service.commit_owner(
            trailer=(tags.get("task", "").split() or [""])[0],
            branch=branch,
            names=gitinfo.ids_in(branch, self.service.config.id_prefix),
            agent=self.agent,
        )
        if owner.warning:
            self.say(owner.warning)
        task_id, why = owner.task_id, owner.why
        if not task_id:
            return 0
        tree = gitinfo.write_tree()
        for command in self.service.config.test_command:
            code, output = run_gate(command, self.top, self.out, self.env)
            if code in COULD_NOT_RUN:
                return self.gate_not_run(task_id, command, code, output)
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

    def gate_not_run(self, task_id: str, command: str, code: int, output: str) -> int:
        """The shell could not start the gate (126: not executable, 127: not found): no test
        ran, so nothing failed. Block the commit, say why, leave the task and its feedback."""
        said = (output.strip().splitlines() or [""])[-1]
        self.say(
            f"the test command could not be run: `{command}` exited {code}"
            + (f" ({said})" if said else "")
            + f"; commit blocked, {task_id} left as it is, no test feedback written"
        )
        self.say(
            f"the gate runs with this commit's environment, PATH={self.env.get('PATH', '')}; "
            "name the program by path in test_command (e.g. .venv/bin/pytest -q: "
            "orch init --test-command ...) or commit where it is on PATH"
        )
        return code

    def gate_failed(
        self, task_id: str, command: str, code: int, output: str, tree: str, branch: str
    ) -> int:
        from .feedback import GateFailure, name, render, summary
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
            task = self.service.test_failed(
                task_id,
                agent=self.agent or HOOK_AGENT,
                summary=summary(failure),
                detail=failure.report.first_error,
                attachment=(name(failure), render(failure)),
            )
            ref = task.errors[-1].ref
        except OrchError as exc:
            self.say(f"could not record the failure on the board: {exc.message}")
        else:
            kept = (
                f"with the feedback {self.shown(ref)}"
                if any(n.ref == ref for n in task.open_feedback)
                else f"(closed: no feedback opened; the failure is in its Error Context and "
                f"{self.shown(ref)})"
            )
            self.say(
                f"`{command}` failed (exit {code}): commit blocked. {task.id} is "
                f"{task.status.value} {kept}"
            )
            self.say(
                f"board changed: {self.shown(ref)}, {self.shown('.mcp/tasks/')} ({task.id}); "
                "commit them with the fix"
            )
        return code if 0 < code < 256 else 1

    # ------------------------------------------------------------------ post-commit

    def post_commit(self, pending: str, commit: str, tree: str) -> int:
        try:
            with open(pending, encoding="utf-8") as handle:
                note = json.load(handle)
        except (OSError, ValueError):
            return 0
        remove_if_present(pending)
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
        why = f" ({note['why']})" if note.get("why") else ""
        self.say(
            f"{task.id} ({task.status.value}): recorded commit {commit[:12]}{why}; "
            f"board changed: {self.shown('.mcp/tasks/')} (commit it with your next change)"
        )
        return 0


# What ``git rev-parse --local-env-vars`` lists (git 2.39 and later): the variables that tie a
# git command to one repository. Git sets some of them for its hooks (GIT_INDEX_FILE during a
# commit, GIT_DIR, GIT_PREFIX); a test suite that runs git in a repository of its own would
# otherwise write into the committer's index. Identity, editor and PATH stay.
GIT_LOCAL_ENV = (
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_CONFIG",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
    "GIT_OBJECT_DIRECTORY",
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_IMPLICIT_WORK_TREE",
    "GIT_GRAFT_FILE",
    "GIT_INDEX_FILE",
    "GIT_NO_REPLACE_OBJECTS",
    "GIT_REPLACE_REF_BASE",
    "GIT_PREFIX",
    "GIT_INTERNAL_SUPER_PREFIX",
    "GIT_SHALLOW_FILE",
    "GIT_COMMON_DIR",
)


# Exit codes of a shell that could not start the command (POSIX: 126 found but not
# executable, 127 not found): the tests never ran.
COULD_NOT_RUN = (126, 127)


def gate_env(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` without git's repository-local variables: the gate finds the repo from its cwd."""
    return {k: v for k, v in env.items() if k not in GIT_LOCAL_ENV}


def run_gate(
    command: str, cwd: str, out: IO[str], env: Mapping[str, str] | None = None
) -> tuple[int, str]:
    """Run one quality-gate command as a shell would, echoing its output; (exit code, output)."""
    proc = subprocess.Popen(
        command,
        shell=True,
        cwd=cwd,
        env=gate_env(os.environ if env is None else env),
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
