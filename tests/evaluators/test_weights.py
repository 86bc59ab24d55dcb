"""The model-file resolver: search order, offline refusal, and what its error says."""

from __future__ import annotations

import pytest

from drawbench.weights import (
    WeightFile,
    WeightsNotFoundError,
    candidate_paths,
    is_offline,
    resolve_weights,
)

SPEC = WeightFile(
    "Test net", "nets/test.pt", "--test-weights", url="https://example.invalid/test.pt"
)


def test_explicit_path_wins_and_must_exist(tmp_path):
    f = tmp_path / "w.pt"
    f.write_bytes(b"x")
    assert resolve_weights(SPEC, f) == f
    with pytest.raises(WeightsNotFoundError, match=r"--test-weights .*does not exist"):
        resolve_weights(SPEC, tmp_path / "missing.pt")


def test_env_folder_then_cache(tmp_path, monkeypatch):
    env = tmp_path / "env"
    (env / "nets").mkdir(parents=True)
    (env / "nets" / "test.pt").write_bytes(b"x")
    monkeypatch.setenv("DRAWBENCH_WEIGHTS", str(env))
    monkeypatch.setenv("DRAWBENCH_CACHE", str(tmp_path / "cache"))
    assert resolve_weights(SPEC, offline=True) == env / "nets" / "test.pt"
    monkeypatch.delenv("DRAWBENCH_WEIGHTS")
    cached = tmp_path / "cache" / "weights" / "nets" / "test.pt"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"y")
    assert resolve_weights(SPEC, offline=True) == cached
    assert candidate_paths(SPEC)[-1] == cached


def test_offline_error_names_file_places_and_flag(tmp_path, monkeypatch):
    monkeypatch.setenv("DRAWBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("DRAWBENCH_WEIGHTS", str(tmp_path / "env"))
    with pytest.raises(WeightsNotFoundError) as err:
        resolve_weights(SPEC, offline=True)
    msg = str(err.value)
    assert "'test.pt'" in msg and "offline" in msg and "--test-weights" in msg
    assert str(tmp_path / "env" / "nets" / "test.pt") in msg and "DRAWBENCH_WEIGHTS" in msg


def test_download_only_when_online(tmp_path, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("DRAWBENCH_OFFLINE", raising=False)
    monkeypatch.setenv("DRAWBENCH_CACHE", str(tmp_path / "cache"))
    target = tmp_path / "downloaded.pt"
    calls = []

    def fetch():
        calls.append(1)
        target.write_bytes(b"z")
        return str(target)

    spec = WeightFile("Test net", "nets/test.pt", "--test-weights", download=fetch)
    assert not is_offline()
    assert resolve_weights(spec) == target and calls == [1]
    with pytest.raises(WeightsNotFoundError):
        resolve_weights(spec, offline=True)
    monkeypatch.setenv("DRAWBENCH_OFFLINE", "1")
    assert is_offline()
    with pytest.raises(WeightsNotFoundError, match="offline"):
        resolve_weights(spec)
    assert calls == [1]


def test_failed_download_is_reported(tmp_path, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("DRAWBENCH_CACHE", str(tmp_path / "cache"))

    def broken():
        raise OSError("network unreachable")

    spec = WeightFile("Test net", "nets/test.pt", "--test-weights", download=broken)
    with pytest.raises(WeightsNotFoundError, match="download failed: network unreachable"):
        resolve_weights(spec)
