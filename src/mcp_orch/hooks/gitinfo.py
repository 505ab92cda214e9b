"""What the hooks need to know from git: where the commit is made, the branch, the tree being
committed, the message's trailers, a pull-request number. Small ``git`` calls and pure parsing;
no git library.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping

from ..domain.record import Record

_TRAILER_RE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9-]*)\s*:\s*(.*?)\s*$")
_SCISSORS = "------------------------ >8 ------------------------"


def git(*args: str, cwd: str | None = None) -> str:
    """``git args`` output, stripped; "" when git fails (an unborn branch, no repository)."""
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    return proc.stdout.strip() if proc.returncode == 0 else ""


def branch(cwd: str | None = None) -> str:
    """The current branch ("" when HEAD is detached)."""
    return git("symbolic-ref", "--short", "-q", "HEAD", cwd=cwd)


class Place(Record):
    """Where a commit is being made ("" everywhere when not inside a git repository)."""

    top: str  # the top of the worktree being committed (git runs its hooks there)
    pending: str  # the hook's note, in this worktree's git dir
    branch: str  # "" when HEAD is detached
    message: str  # the message file git writes (COMMIT_EDITMSG)


def place(note: str, cwd: str | None = None) -> Place:
    """One ``git rev-parse`` for all of it (two on an unborn branch, which has no HEAD yet)."""
    paths = ("--show-toplevel", "--git-path", note, "--git-path", "COMMIT_EDITMSG")
    lines = git("rev-parse", *paths, "--symbolic-full-name", "HEAD", cwd=cwd).split("\n")
    if len(lines) == 4:
        ref = lines[3]
        name = ref[len("refs/heads/") :] if ref.startswith("refs/heads/") else ""
    else:
        lines = git("rev-parse", *paths, cwd=cwd).split("\n")
        if len(lines) != 3:
            return Place("", "", "", "")
        name = branch(cwd)
    return Place(lines[0], lines[1], name, lines[2])


def write_tree(cwd: str | None = None) -> str:
    """The tree of the index being committed (git sets ``GIT_INDEX_FILE`` for hooks)."""
    return git("write-tree", cwd=cwd)


def message_text(raw: str, comment: str = "#") -> str:
    """The message as git will store it: no comment lines, nothing below the scissors line."""
    kept: list[str] = []
    for line in raw.split("\n"):
        if line.startswith(comment):
            if _SCISSORS in line:
                break
            continue
        kept.append(line)
    return "\n".join(kept).strip()


def trailers(message: str) -> dict[str, str]:
    """The trailers of the message's last paragraph, keys lower-cased (the last one wins)."""
    paragraphs = [p for p in re.split(r"\n\s*\n", message.strip()) if p.strip()]
    if len(paragraphs) < 2:
        return {}  # the subject paragraph is never trailers (as in git)
    found: dict[str, str] = {}
    for line in paragraphs[-1].split("\n"):
        match = _TRAILER_RE.match(line)
        if match and match.group(2):
            found[match.group(1).lower()] = match.group(2)
    return found


def ids_in(text: str, prefix: str) -> list[str]:
    """Task-ID-shaped words with ``prefix`` in a branch name (``feature/T-7k3m9q2x-login``)."""
    pattern = rf"(?<![A-Za-z0-9])({re.escape(prefix)}-[0-9A-Za-z]{{3,16}})(?![0-9A-Za-z])"
    return re.findall(pattern, text, flags=re.IGNORECASE)


_PR_BRANCH_RE = re.compile(r"(?:^|/)(?:pr|pull|pull-request|mr)[/-](\d+)(?:[/-]|$)", re.IGNORECASE)
_PR_ENV = (
    ("GITHUB_REF", re.compile(r"^refs/pull/(\d+)/")),
    ("CI_MERGE_REQUEST_IID", re.compile(r"^(\d+)$")),  # GitLab
    ("BITBUCKET_PR_ID", re.compile(r"^(\d+)$")),
    ("SYSTEM_PULLREQUEST_PULLREQUESTNUMBER", re.compile(r"^(\d+)$")),  # Azure Pipelines
    ("CHANGE_ID", re.compile(r"^(\d+)$")),  # Jenkins
    ("BUILDKITE_PULL_REQUEST", re.compile(r"^(\d+)$")),
    ("PR_NUMBER", re.compile(r"^#?(\d+)$")),
)


def pr_number(branch_name: str, tags: Mapping[str, str], env: Mapping[str, str]) -> str:
    """The pull request, when a trailer, the branch name or the CI environment says it."""
    for key in ("pr", "pull-request", "pr-number"):
        match = re.search(r"(\d+)\s*$", tags.get(key, ""))
        if match:
            return match.group(1)
    match = _PR_BRANCH_RE.search(branch_name)
    if match:
        return match.group(1)
    for name, pattern in _PR_ENV:
        found = pattern.match(env.get(name, "").strip())
        if found:
            return found.group(1)
    return ""
