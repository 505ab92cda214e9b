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
    new = head + _block(indent) + "".join(lines[end:])
    after = _load(new)
    repos = before["repos"]
    assert isinstance(repos, list)
    expected = {**before, "repos": [*repos, ENTRY]}
    if after != expected:
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
    return "".join(lines[:begin] + lines[end + 1 :])


def _manual(why: str) -> OrchError:
    return OrchError(
        f"cannot add mcp-orch to {CONFIG} safely: {why}",
        "add this under repos: by hand, or install plain git hooks with --mode git:\n"
        + _block("  "),
    )
