"""What the git hooks report (issue 4): a quality gate that failed on a commit of a task, and
a commit that passed it. Both are operations of the service like any other, so the task file,
the feedback and the log change exactly as they would from the CLI or MCP.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..domain import transitions
from ..domain.errors import IllegalTransition, NotAllowed, UnknownAgent
from ..domain.ids import looks_like_id, normalize_id
from ..domain.model import Status, Task
from ..domain.record import Record
from ..inputs import check_agent, check_text, parse_status
from ..store import Tx
from .base import ServiceBase, resolve_all

# The moves a commit's ``Task-Status`` trailer may ask for, as operations of the table.
_COMMIT_MOVES: dict[Status, str] = {
    Status.REVIEW: "submit",
    Status.DONE: "complete",
}


# Where a task's work has ended: a failed gate on a commit naming one opens no feedback.
_CLOSED = (Status.DONE, Status.FAILED)


class CommitOwner(Record):
    """The task a commit belongs to ("" for none), why, and what to tell the committer."""

    task_id: str
    why: str
    warning: str = ""


class GateOps(ServiceBase):
    """The results of the quality gate, recorded on the board."""

    def commit_owner(
        self, *, trailer: str, branch: str, names: Sequence[str], agent: str
    ) -> CommitOwner:
        """The task a commit belongs to, in this order: a ``Task: ID`` trailer; else a task ID
        among ``names`` (the ID-shaped words of the branch name); else the committing agent's
        single in-progress task; else, holding none, its single task a failed gate sent back
        (a failed gate releases the task, so the retry would otherwise skip the gate and leave
        the test feedback open). Other commits belong to no task and are left alone.
        """
        tasks = self.status().tasks
        known = {t.id for t in tasks}
        if trailer:
            if looks_like_id(trailer) and normalize_id(trailer) in known:
                return CommitOwner(normalize_id(trailer), "Task trailer")
            return CommitOwner(
                "", "", f"'Task: {trailer}' names no task on the board; commit left alone"
            )
        for word in names:
            if looks_like_id(word) and normalize_id(word) in known:
                return CommitOwner(normalize_id(word), f"branch {branch}")
        if not agent:
            return _no_owner(branch, "no ORCH_AGENT says who is committing")
        held = [t.id for t in tasks if t.status is Status.IN_PROGRESS and t.agent == agent]
        if len(held) == 1:
            return CommitOwner(held[0], f"{agent}'s in-progress task")
        sent_back = [
            t.id
            for t in tasks
            if not held
            and t.status is Status.READY
            and t.implementer == agent
            and t.open_feedback
            and any(n.source == "test" for n in self.show(t.id).open_feedback)
        ]
        if len(sent_back) == 1:
            return CommitOwner(sent_back[0], f"{agent}'s task sent back by failing tests")
        if held:
            return _no_owner(branch, f"{agent} holds {len(held)} tasks ({', '.join(held)})")
        if sent_back:
            many = f"{len(sent_back)} tasks sent back by failing tests ({', '.join(sent_back)})"
            return _no_owner(branch, f"{agent} has {many}")
        return _no_owner(branch, f"{agent} holds no in-progress task")

    def test_failed(
        self,
        task_id: str,
        *,
        agent: str | None,
        summary: str,
        detail: str = "",
        ref: str = "",
        attachment: tuple[str, str] | None = None,
    ) -> Task:
        """The quality gate failed on a commit of this task (AC3.1).

        Appends Error Context (``detail``) and open test feedback (``summary``), both pointing at
        the feedback ``ref``, or at ``attachment`` (name, text: the full output), which the
        store keeps with the task in the same transaction; older open test feedback is
        superseded (resolved), so only the newest failure is open. The task goes back to ready
        for the same implementer; a task that cannot move (pending, done, failed) keeps its
        status and records the failure. A done or failed task gets the Error Context only:
        nobody works on it any more, so feedback opened there would stay open forever.
        """
        who = check_agent(agent, required=False)
        head = check_text(summary, "summary")
        body = check_text(f"{head}\n\n{detail}" if detail else head, "error text")

        def change(task: Task, tx: Tx) -> Task:
            now = self.now()
            where = tx.attach(task.id, *attachment) if attachment else ref
            task = task.evolve(feedback=resolve_all(task.feedback, now, sources=("test",)))
            task = task.add_note(
                "errors", at=now, author=who, body=body, source="test", open=False, ref=where
            )
            if task.status not in _CLOSED:
                task = task.add_note(
                    "feedback", at=now, author=who, body=head, source="test", ref=where
                )
            if task.status in transitions.TRANSITIONS["test-failed"].sources:
                return transitions.apply(task, "test-failed", actor=who, now=now, note=head)
            return transitions.record(task, "test-failed", actor=who, now=now, note=head)

        return self._mutate(task_id, who, "test-failed", change)

    def test_attempt(self, task_id: str) -> int:
        """The number the next failed gate run of this task gets (1 for the first)."""
        task = self.show(task_id)
        return 1 + sum(1 for n in task.errors if n.source == "test")

    def tests_passed(
        self,
        task_id: str,
        *,
        agent: str | None,
        branch: str = "",
        commit: str = "",
        pr: str = "",
        move_to: str | None = None,
    ) -> tuple[Task, str]:
        """A commit of this task passed the gate and exists: record it, close test feedback.

        Open test feedback is resolved (a stale failure must never keep an agent looping), the
        Git Context is updated, and ``move_to`` (a ``Task-Status`` trailer: review, done or
        failed) moves the task when that move is legal. Returns the task and a warning when
        the move was refused; the commit has happened, so refusing must not fail the rest.
        """
        who = check_agent(agent, required=False)
        target = parse_status(move_to) if move_to else None

        def change(task: Task, tx: Tx) -> tuple[Task, str]:
            """The task with the commit recorded, and why its move was refused ("": it was
            not)."""
            now = self.now()
            task = task.evolve(
                feedback=resolve_all(task.feedback, now, sources=("test",)),
                git=task.git._replace(
                    branch=branch or task.git.branch,
                    commit=commit or task.git.commit,
                    pr=pr or task.git.pr,
                ),
            )
            note = f"commit {commit[:12]}" + (f" on {branch}" if branch else "")
            op = _COMMIT_MOVES.get(target) if target is not None else None
            refused = ""
            if target is not None and op is None:
                refused = f"Task-Status: {target.value} is not a move a commit can make"
            elif op is not None:
                try:
                    self._allow(who, op, task, tx)
                    transitions.check(task, op)
                except (IllegalTransition, NotAllowed, UnknownAgent) as exc:
                    refused = exc.message
                else:
                    if op == "submit":
                        task = task.evolve(feedback=resolve_all(task.feedback, now))
                    return transitions.apply(task, op, actor=who, now=now, note=note), ""
            return transitions.record(task, "commit", actor=who, now=now, note=note), refused

        return self._mutate_and(task_id, who, "commit", change)


def _no_owner(branch: str, agent_side: str) -> CommitOwner:
    """No task: the one line that says why the commit was not gated, and how to gate it."""
    where = f"branch {branch} names no task" if branch else "no branch (detached HEAD)"
    return CommitOwner(
        "",
        "",
        f"commit not gated (it belongs to no task): no 'Task: ID' trailer, {where}, "
        f"and {agent_side}; add 'Task: ID' to the message to gate it",
    )
