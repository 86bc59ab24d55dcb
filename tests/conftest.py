"""Test tiers: the default run is fast and offline. Slow tests need --run-slow (CI passes it),
GPU tests a CUDA device, network tests --run-network; browser tests need /usr/bin/chromium and
fail instead of skipping when DRAWBENCH_REQUIRE_BROWSER=1 (set by .ci/run)."""

from __future__ import annotations

import os
import shutil

import pytest

CHROMIUM = "/usr/bin/chromium"


def pytest_addoption(parser):
    parser.addoption("--run-slow", action="store_true", help="also run tests marked slow")
    parser.addoption(
        "--run-network", action="store_true", help="also run tests that need the model hub"
    )


def _has_cuda() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def pytest_collection_modifyitems(config, items):
    run_slow = config.getoption("--run-slow") or os.environ.get("DRAWBENCH_RUN_SLOW") == "1"
    require_browser = os.environ.get("DRAWBENCH_REQUIRE_BROWSER") == "1"
    have_browser = os.path.exists(CHROMIUM) or shutil.which("chromium") is not None
    for item in items:
        if "slow" in item.keywords and not run_slow:
            item.add_marker(pytest.mark.skip(reason="slow test: run with --run-slow (CI does)"))
        if "network" in item.keywords and not config.getoption("--run-network"):
            item.add_marker(pytest.mark.skip(reason="needs the model hub: run with --run-network"))
        if "gpu" in item.keywords and not _has_cuda():
            item.add_marker(pytest.mark.skip(reason="needs a CUDA device"))
        if "browser" in item.keywords and not have_browser and not require_browser:
            item.add_marker(
                pytest.mark.skip(
                    reason=f"needs Debian's Chromium at {CHROMIUM} (apt-get install chromium)"
                )
            )


@pytest.fixture(autouse=True)
def _offline_env(monkeypatch, tmp_path_factory):
    """No test reaches a model hub, and caches go to a temporary folder."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setenv("DRAWBENCH_CACHE", str(tmp_path_factory.getbasetemp() / "drawbench-cache"))
