"""Shared fixtures: real temp directories, real git repos, the real ``orch`` executable.

Nothing is faked but the clock: set ``ORCH_CLOCK`` (an ISO time) in ``env`` to pin "now";
in-process tests give the service a ``ManualClock`` (see tests/integration/test_timers.py).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

# The tests' temp directories on tmpfs when the machine has one: the board fsyncs each write
# (as it must), and on a shared disk those fsyncs were a large part of the suite's time. The
# files are as real; only a power cut, which no test makes, would tell the two apart.
# ORCH_TEST_TMP (or pytest's own --basetemp / PYTEST_DEBUG_TEMPROOT) chooses another place.
_TMP = os.environ.get("ORCH_TEST_TMP", "/dev/shm")
if (
    "PYTEST_DEBUG_TEMPROOT" not in os.environ
    and os.path.isdir(_TMP)
    and os.access(_TMP, os.W_OK | os.X_OK)
):
    os.environ["PYTEST_DEBUG_TEMPROOT"] = _TMP

BIN = Path(sys.executable).parent
ORCH = shutil.which("orch", path=str(BIN)) or shutil.which("orch")
if ORCH is None:  # pragma: no cover - a broken install
    raise RuntimeError("the orch executable is not installed; run: pip install -e '.[test]'")


def pytest_sessionstart(session: pytest.Session) -> None:
    """Byte-compile the package once, before any test: with PYTHONDONTWRITEBYTECODE set (as
    some shells and CI set it) no ``orch`` process would write its ``__pycache__``, and each
    of the suite's thousands would compile every module it imports again, about five times
    the CPU of a run that reads them. compileall writes them whatever that variable says."""
    if hasattr(session.config, "workerinput"):  # an xdist worker: the controller did it
        return
    import compileall

    import mcp_orch

    compileall.compile_dir(os.path.dirname(mcp_orch.__file__), quiet=2)


@dataclass
class Result:
    args: list[str]
    code: int
    out: str
    err: str

    def json(self) -> object:
        return json.loads(self.out)

    def err_json(self) -> dict[str, object]:
        data = json.loads(self.err)
        assert isinstance(data, dict)
        return data


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a fresh shell: no ORCH_* leaking in from the developer's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORCH_")}
    env.update(
        {
            "GIT_AUTHOR_NAME": "Test",
            "GIT_AUTHOR_EMAIL": "test@example.com",
            "GIT_COMMITTER_NAME": "Test",
            "GIT_COMMITTER_EMAIL": "test@example.com",
            "GIT_CONFIG_NOSYSTEM": "1",
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        }
    )
    env.update(extra or {})
    return env


@dataclass
class Orch:
    """Runs the installed ``orch`` in ``cwd`` as a separate process."""

    cwd: Path
    env: dict[str, str] = field(default_factory=clean_env)

    def __call__(
        self,
        *args: str,
        check: bool = True,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = 60,
        input: str | None = None,
    ) -> Result:
        argv = [str(ORCH), *args]
        proc = subprocess.run(
            argv,
            cwd=cwd or self.cwd,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input,
        )
        result = Result(argv, proc.returncode, proc.stdout, proc.stderr)
        if check and proc.returncode != 0:
            raise AssertionError(
                f"orch {' '.join(args)} exited {proc.returncode}\n"
                f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
            )
        return result

    def json(self, *args: str, **kwargs: object) -> dict[str, object]:
        data = self(*args, "--json", **kwargs).json()  # type: ignore[arg-type]
        assert isinstance(data, dict)
        return data

    def create(self, title: str, *args: str) -> str:
        data = self.json("create", title, *args)
        return str(data["id"])

    def ready(self, title: str, *args: str) -> str:
        """A task created and prepped by the planner: it is in ready/."""
        task_id = self.create(title, *args)
        self(
            "prep", task_id, "--goal", f"goal of {title}", "--ac", "it works", "--agent", "chatgpt"
        )
        return task_id

    def popen(self, *args: str, **kwargs: object) -> subprocess.Popen[str]:
        return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
            [str(ORCH), *args],
            cwd=self.cwd,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            **kwargs,
        )


def git(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args], cwd=cwd, env=clean_env(), capture_output=True, text=True, check=check
    )


@dataclass(frozen=True)
class Templates:
    """Made once per session (per worker): a repository and a board, copied into each test."""

    repo: Path  # an empty git repository with one commit
    board: Path  # the ``.mcp/`` that ``orch init --no-detect`` made in a copy of ``repo``


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Templates:
    """The real ``git init`` + commit and the real ``orch init --no-detect``, run once: each
    test copies the result (files, the ``.git`` directory and the times of the files, which the
    board's config cache is keyed on) instead of running the same three ``git`` and one
    ``orch`` processes again. ``orch init`` writes nothing but ``.mcp/`` (its own tests, which
    run it themselves, check what it writes)."""
    base = tmp_path_factory.mktemp("templates")
    repo = base / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "README.md").write_text("# demo project\n")
    git(repo, "add", "README.md")
    git(repo, "commit", "-q", "-m", "initial")
    initialised = base / "initialised"
    shutil.copytree(repo, initialised, symlinks=True)
    Orch(initialised)("init", "--no-detect")
    return Templates(repo, initialised / ".mcp")


@pytest.fixture
def project(tmp_path: Path, templates: Templates) -> Path:
    """An empty git repository (one commit) to work in."""
    root = tmp_path / "project"
    shutil.copytree(templates.repo, root, symlinks=True)
    return root


@pytest.fixture
def orch(project: Path, templates: Templates) -> Iterator[Orch]:
    """``orch`` in an initialised board inside ``project`` (what ``orch init --no-detect``
    makes, copied from the session's template)."""
    shutil.copytree(templates.board, project / ".mcp", symlinks=True)
    yield Orch(project)


def task_file(project: Path, task_id: str) -> Path:
    """The one file of ``task_id`` on the board (fails if there is not exactly one)."""
    found = list((project / ".mcp" / "tasks").glob(f"*/{task_id}-*.md"))
    assert len(found) == 1, f"expected one file for {task_id}, found {found}"
    return found[0]


def set_roles(project: Path, **roles: list[str] | bool) -> None:
    """Set who plays which role in the board's config (``enforce=False`` turns roles off):
    the set-up of a test whose agents are not the default chatgpt, cursor and codex."""
    path = project / ".mcp" / "config.yaml"
    lines = path.read_text().splitlines()
    start = lines.index("roles:")
    end = next(i for i in range(start + 1, len(lines)) if not lines[i].startswith("  "))
    current = {
        k.strip(): v.strip() for k, v in (line.split(":", 1) for line in lines[start + 1 : end])
    }
    for role, value in roles.items():
        if isinstance(value, bool):
            current[role] = "true" if value else "false"
        else:
            current[role] = "[" + ", ".join(value) + "]"
    block = [f"  {k}: {v}" for k, v in current.items()]
    path.write_text("\n".join([*lines[: start + 1], *block, *lines[end:]]) + "\n")


HEAVY = ("mcp.", "uvicorn", "starlette", "pydantic", "httpx")  # only the commands that serve


def heavy_imports(cwd: Path, *argvs: list[str]) -> list[str]:
    """The heavy modules (the MCP SDK and its web stack) that running these ``orch`` commands
    in one interpreter loads: the CLI's hot path must load none of them."""
    probe = (
        "import json, sys\n"
        "from mcp_orch.interfaces import cli\n"
        f"for argv in {[list(a) for a in argvs]!r}:\n"
        "    try:\n"
        "        cli.main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        f"heavy = {HEAVY!r}\n"
        "loaded = sorted(m for m in sys.modules if m == 'mcp' or m.startswith(heavy))\n"
        "print('LOADED', json.dumps(loaded))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    loaded: list[str] = json.loads(out.split("LOADED ", 1)[1])
    return loaded
