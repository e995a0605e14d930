"""`--executor ray` where Ray cannot run: one line naming the fix, no traceback, in seconds."""

from __future__ import annotations

import socket
import sys

import pytest

from codexsd.cli import main
from codexsd.core.executor import ClusterUnavailable, get_executor
from codexsd.core.imports import MissingDependency


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once the socket is closed


def test_an_unreachable_ray_address_is_one_line_with_the_fix(monkeypatch):
    pytest.importorskip("ray")
    monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{_closed_port()}")
    with pytest.raises(ClusterUnavailable, match=r"cannot reach the Ray cluster at 127\.0\.0\.1:\d+ .*ray start --head"):
        get_executor("ray")
    monkeypatch.setenv("RAY_ADDRESS", "not-an-address")
    with pytest.raises(ClusterUnavailable, match="not a host:port address"):
        get_executor("ray")


def test_the_build_command_reports_an_unreachable_cluster_on_one_line(monkeypatch, tmp_path, capsys):
    pytest.importorskip("ray")
    monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{_closed_port()}")
    code = main(["build", "--executor", "ray", "--sandbox", "local", "--no-ci", "--competitive", "",
                 "-o", str(tmp_path / "out"), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("codexsd build: error: cannot reach the Ray cluster")
    assert "RAY_ADDRESS" in err[0] and "Traceback" not in err[0]


def test_ray_not_installed_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` sees where it is not installed
    with pytest.raises(MissingDependency, match=r"pip install 'codexsd\[ray\]'"):
        get_executor("ray")
