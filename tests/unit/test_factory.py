"""``open_store``: the store a URL names, and a clear error for one it cannot open."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mcp_orch.board.files import FileStore
from mcp_orch.domain.errors import InvalidInput, OrchError
from mcp_orch.service.compose import build, store_url
from mcp_orch.store.factory import open_store, sqlite_path
from mcp_orch.store.memory import MemoryStore


def test_files_is_the_default_and_opens_the_board(tmp_path: Path) -> None:
    board = str(tmp_path / ".mcp")
    store = open_store("", board)
    assert isinstance(store, FileStore) and store.root == board and store.url == "files"
    assert isinstance(open_store("memory", None), MemoryStore)


def test_an_unknown_url_says_which_ones_exist() -> None:
    with pytest.raises(InvalidInput) as info:
        open_store("mongodb://localhost/x", None)
    assert "unknown store 'mongodb://localhost/x'" in info.value.message
    assert "files, memory, sqlite:///PATH" in info.value.hint


def test_a_backend_whose_module_is_missing_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mcp_orch.store.postgres", None)  # import fails
    with pytest.raises(OrchError) as info:
        open_store("postgresql://postgres@127.0.0.1/test", None)
    assert "the postgresql store is not available" in info.value.message
    assert "files" in info.value.hint


def test_a_relative_sqlite_path_is_beside_the_board(tmp_path: Path) -> None:
    board = str(tmp_path / ".mcp")
    assert sqlite_path("sqlite:///orch.db", board) == str(tmp_path / "orch.db")
    assert sqlite_path("sqlite:////var/orch.db", board) == "/var/orch.db"
    assert sqlite_path("sqlite:///:memory:", board) == ":memory:"


def test_the_composition_root_reads_the_store_from_the_environment(tmp_path: Path) -> None:
    assert store_url({}) == "files" and store_url({"ORCH_STORE": " memory "}) == "memory"
    board = tmp_path / ".mcp"
    FileStore.initialize(str(board))
    service = build(str(board), url="memory")
    assert isinstance(service.store, MemoryStore)
    assert isinstance(build(str(board)).store, FileStore)
