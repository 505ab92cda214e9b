"""The pre-commit framework: a ``repo: local`` entry added to the user's
``.pre-commit-config.yaml`` as one marked block of text, so that removing the block gives the
file back byte for byte. The YAML is parsed before and after to prove nothing else changed.
"""

from __future__ import annotations

import re

from ..domain.errors import OrchError

CONFIG = ".pre-commit-config.yaml"
BEGIN = "# >>> mcp-orch (orch hooks uninstall removes this block) >>>"
END = "# <<< mcp-orch <<<"
STAGES = ("commit-msg", "post-commit")
ENTRY: dict[str, object] = {
    "repo": "local",
    "hooks": [
        {
            "id": "mcp-orch-gate",
            "name": "mcp-orch quality gate and feedback loop",
            "entry": "orch hook commit-msg",
            "language": "system",
            "stages": ["commit-msg"],
            "always_run": True,
        },
        {
            "id": "mcp-orch-record",
            "name": "mcp-orch records the commit on the board",
            "entry": "orch hook post-commit",
            "language": "system",
            "stages": ["post-commit"],
            "always_run": True,
            "pass_filenames": False,
        },
    ],
}
INSTALL_TYPES = "pre-commit install --hook-type commit-msg --hook-type post-commit"


def _block(indent: str) -> str:
    lines = [BEGIN, "- repo: local", "  hooks:"]
    for hook in ENTRY["hooks"]:  # type: ignore[attr-defined]
        first = True
        for key, value in hook.items():
            text = (
                "[" + ", ".join(value) + "]"
                if isinstance(value, list)
                else ("true" if value is True else "false" if value is False else str(value))
            )
            lines.append(f"  {'- ' if first else '  '}{key}: {text}")
            first = False
    lines.append(END)
    return "".join(f"{indent}{ln}\n" for ln in lines)


def _load(text: str) -> dict[str, object]:
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise OrchError(f"{CONFIG} is not valid YAML: {exc}", "fix it, then run again") from None
    if not isinstance(data, dict) or not isinstance(data.get("repos"), list):
        raise OrchError(f"{CONFIG} has no 'repos:' list", "add 'repos: []' or fix the file")
    return data


def add_block(text: str) -> str:
    """``text`` with our entry appended to its ``repos:`` list; refuses what it cannot prove."""
    if BEGIN in text:
        return text
    before = _load(text)
    lines = text.splitlines(keepends=True)
    empty = next((i for i, ln in enumerate(lines) if _EMPTY_REPOS.match(ln)), None)
    if empty is not None:
        return _checked(before, _filled(lines, empty))
    start = next((i for i, ln in enumerate(lines) if re.match(r"^repos\s*:\s*(#.*)?$", ln)), None)
    if start is None:
        raise _manual("its 'repos:' is not a block list")
    indent = ""
    end = len(lines)
    for i in range(start + 1, len(lines)):
        line = lines[i]
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        item = re.match(r"^(\s*)- ", line)
        if item and not indent and i == _first_content(lines, start):
            indent = item.group(1)
        if not line[0].isspace() and not (indent == "" and line.startswith("- ")):
            end = i
            break
    while end > start + 1 and (not lines[end - 1].strip() or lines[end - 1].startswith("#")):
        end -= 1  # keep blank lines and top-level comments that lead into the next key
    head = "".join(lines[:end])
    if head and not head.endswith("\n"):
        head += "\n"
    return _checked(before, head + _block(indent) + "".join(lines[end:]))


# ``repos: []``, the usual empty config (pre-commit's own sample starts from it).
_EMPTY_REPOS = re.compile(r"^repos\s*:\s*\[\s*\]\s*(#.*)?(\r?\n)?$")


def _filled(lines: list[str], at: int) -> str:
    """``repos: []`` at line ``at`` turned into a block list holding only our entry (the
    comment kept); uninstall gives the original bytes back from the backup."""
    found = _EMPTY_REPOS.match(lines[at])
    assert found is not None
    comment, newline = found.group(1), found.group(2) or "\n"
    head = "repos:" + (f"  {comment}" if comment else "") + newline
    return "".join(lines[:at]) + head + _block("") + "".join(lines[at + 1 :])


def _checked(before: dict[str, object], new: str) -> str:
    """``new``, once it parses as ``before`` with our entry added to ``repos``."""
    repos = before["repos"]
    assert isinstance(repos, list)
    if _load(new) != {**before, "repos": [*repos, ENTRY]}:
        raise _manual("the result would not parse as intended")
    return new


def _first_content(lines: list[str], start: int) -> int:
    for i in range(start + 1, len(lines)):
        if lines[i].strip() and not lines[i].lstrip().startswith("#"):
            return i
    return -1


def remove_block(text: str) -> str | None:
    """``text`` without our block, or None when the block is not (wholly) there."""
    lines = text.splitlines(keepends=True)
    begin = next((i for i, ln in enumerate(lines) if ln.strip() == BEGIN), None)
    if begin is None:
        return None
    end = next((i for i in range(begin, len(lines)) if lines[i].strip() == END), None)
    if end is None:
        return None
    kept = lines[:begin] + lines[end + 1 :]
    if begin and _BARE_REPOS.match(lines[begin - 1]) and _repos_left_empty(kept):
        # Installed into ``repos: []`` and edited since: an empty list again, not a null.
        found = _BARE_REPOS.match(lines[begin - 1])
        assert found is not None
        kept[begin - 1] = "repos: []" + (f"  {found.group(1)}" if found.group(1) else "") + "\n"
    return "".join(kept)


_BARE_REPOS = re.compile(r"^repos:(?:  (#.*))?\r?\n$")


def _repos_left_empty(lines: list[str]) -> bool:
    import yaml

    try:
        data = yaml.safe_load("".join(lines))
    except yaml.YAMLError:
        return False
    return isinstance(data, dict) and "repos" in data and data["repos"] is None


def _manual(why: str) -> OrchError:
    return OrchError(
        f"cannot add mcp-orch to {CONFIG} safely: {why}",
        "add this under repos: by hand, or install plain git hooks with --mode git:\n"
        + _block("  "),
    )
