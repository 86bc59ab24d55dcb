"""Tiny run directories of solid-colour images, for tests, demos and the load benchmark.

Run names and generator names are distinctive strings so that blinding tests can search for them
in everything a browser receives.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from drawbench.prompts import load_prompt_set
from drawbench.runs import RunDirectory

#: Run names and the generator ("model") name each run records; none may reach a rater.
RUN_NAMES = ("alpha-run-xq7", "beta-run-zk9", "gamma-run-wv3")
MODEL_NAMES = {
    "alpha-run-xq7": "SecretDiffusionXL",
    "beta-run-zk9": "HiddenImagenBase",
    "gamma-run-wv3": "ConcealedDALLE",
}
COLOURS = ((200, 30, 30), (30, 200, 30), (30, 30, 200))


def make_run(
    root: str | Path,
    name: str,
    n_prompts: int = 6,
    images: int = 2,
    colour: tuple[int, int, int] = (200, 30, 30),
    size: int = 16,
    prompt_set: str = "drawbench",
) -> Path:
    """A run directory ``root/name`` on the first ``n_prompts`` prompts of ``prompt_set``, ``images`` per
    prompt, each a solid colour derived from ``colour``, the prompt index and the sample."""
    pset = load_prompt_set(prompt_set)
    model = MODEL_NAMES.get(name, f"model-of-{name}")
    info = {
        "generator": {"name": model, "describe": {"model": model}},
        "prompt_set": pset.describe(),
        "images_per_prompt": images,
        "seed": 0,
    }
    run = RunDirectory.create(Path(root) / name, info)
    for i, p in enumerate(pset.prompts[:n_prompts]):
        for j in range(images):
            shade = (colour[0], (colour[1] + 37 * i) % 256, (colour[2] + 91 * j) % 256)
            run.write_image(p.id, p.category, j, j, Image.new("RGB", (size, size), shade), 0.0)
    return Path(root) / name


def make_runs(root: str | Path, n_runs: int = 3, **kw) -> list[Path]:
    """``n_runs`` runs named from :data:`RUN_NAMES` (then ``run-<i>``) under ``root``."""
    names = [*RUN_NAMES, *(f"run-{i}" for i in range(len(RUN_NAMES), n_runs))][:n_runs]
    return [make_run(root, n, colour=COLOURS[i % 3], **kw) for i, n in enumerate(names)]


def make_coco_images(folder: str | Path, n_prompts: int) -> Path:
    """Fake "real" COCO JPEGs (with an EXIF camera tag) for the first ``n_prompts`` of coco30k."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for p in load_prompt_set("coco30k").prompts[:n_prompts]:
        exif = Image.Exif()
        exif[0x0110] = "RealCameraModel-EOS"  # EXIF Model
        Image.new("RGB", (24, 18), (120, 120, 120)).save(folder / p.meta["file_name"], exif=exif)
    return folder


class PostgresUnavailable(RuntimeError):
    """No throwaway PostgreSQL server could be started; the message says why."""


class ThrowawayPostgres:
    """A PostgreSQL cluster in a temporary folder on a free loopback port (trust auth).

    Uses Debian's binaries (``apt-get install postgresql``); as root the server runs as the
    ``postgres`` user through ``runuser``, since PostgreSQL refuses to run as root.
    """

    def __init__(self, folder: str | Path | None = None):
        import glob
        import os
        import shutil
        import socket
        import tempfile

        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not bins:
            raise PostgresUnavailable("PostgreSQL binaries not found (apt-get install postgresql)")
        self.bin = Path(bins[-1]).parent
        # The server user must reach the folder: as root, pytest's private tmp dirs are not reachable
        # by 'postgres', so a fresh folder directly under the system temp dir is used.
        if folder is None or os.geteuid() == 0:
            folder = tempfile.mkdtemp(prefix="drawbench-pg-")
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.data = self.folder / "pgdata"
        self.prefix: list[str] = []
        if os.geteuid() == 0:
            if shutil.which("runuser") is None:
                raise PostgresUnavailable("running as root and runuser is missing")
            try:
                import pwd

                pw = pwd.getpwnam("postgres")
            except KeyError:
                raise PostgresUnavailable("running as root and no 'postgres' user exists") from None
            os.chown(self.folder, pw.pw_uid, pw.pw_gid)
            self.prefix = ["runuser", "-u", "postgres", "--"]
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        import subprocess

        done = subprocess.run([*self.prefix, *args], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise PostgresUnavailable(
                f"{Path(args[0]).name} failed: {(done.stderr or done.stdout).strip()[-400:]}"
            )

    def start(self) -> ThrowawayPostgres:
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
        )
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c max_connections=200 "
            "-c fsync=on -c synchronous_commit=on"
        )
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "-l",
            str(self.folder / "server.log"),
            "start",
        )
        return self

    def stop(self) -> None:
        import contextlib
        import shutil

        with contextlib.suppress(PostgresUnavailable):  # already gone
            self._run(
                str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"
            )
        shutil.rmtree(self.folder, ignore_errors=True)
