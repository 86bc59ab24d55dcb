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


def screenshot_html(html_path, shot, width: int = 1200) -> tuple[int, int]:
    """Open ``html_path`` in headless Debian Chromium, save a full-page screenshot to ``shot``;
    returns (images on the page, images that loaded)."""
    from playwright.sync_api import sync_playwright

    args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"]  # fmt: skip
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.goto(html_path.as_uri())
        n_loaded = page.evaluate(
            "Array.from(document.images).filter(i => i.complete && i.naturalWidth > 0).length"
        )
        n_images = page.evaluate("document.images.length")
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    return n_images, n_loaded


@pytest.fixture
def screenshot():
    """:func:`screenshot_html` as a fixture (test modules cannot import conftest)."""
    return screenshot_html


@pytest.fixture
def torch_one_thread():
    """torch on one thread for the test (small models run faster and steadier that way)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def load_benchmark_module(name: str):
    """The module of ``benchmarks/<name>.py`` (benchmarks are scripts, not a package)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def load_benchmark():
    """:func:`load_benchmark_module` as a fixture."""
    return load_benchmark_module
