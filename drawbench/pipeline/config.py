"""``drawbench run`` configuration: one TOML file describing the whole benchmark.

Frozen dataclasses with the TOML as the source; ``from_dict`` rejects unknown keys with the key's
dotted path, so a typo fails before any model loads. Example (see ``examples/*.toml``)::

    out = "runs/sd-vs-sdxl"          # runs go to <out>/<generator name>, the report to <out>/report
                                     # (relative paths are relative to the current directory)
    seed = 0

    [prompts]
    set = "drawbench"                # bundled name or a prompt file
    images_per_prompt = 4

    [[generators]]
    name = "sd15"                    # run name (also the name raters never see)
    generator = "diffusers"
    options = { model = "runwayml/stable-diffusion-v1-5", guidance_scale = 7.5 }

    [metrics]
    names = ["clip", "fid"]
    reference = "~/.cache/drawbench/coco30k-clean.npz"

    [study]                          # optional: a human rating study over the runs
    name = "sd-vs-sdxl"
    protocol = "drawbench"
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drawbench.strict import build_strict

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

_RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class ConfigError(ValueError):
    """The config file is invalid; the message names the file and the key."""


def _build(cls, data: Any, where: str):
    """Build dataclass ``cls`` from a dict, rejecting unknown keys and missing required ones."""
    return build_strict(cls, data, where, ConfigError)


@dataclass(frozen=True)
class PromptsConfig:
    set: str = "drawbench"
    images_per_prompt: int = 4
    category: str | None = None
    limit: int | None = None


@dataclass(frozen=True)
class GeneratorConfig:
    name: str
    generator: str
    options: dict[str, Any] = field(default_factory=dict)
    batch_size: int = 4
    device: str | None = None


@dataclass(frozen=True)
class MetricsConfig:
    names: tuple[str, ...] = ("clip",)
    reference: str | None = None
    batch_size: int = 32
    workers: int = 2
    device: str | None = None
    options: dict[str, Any] = field(
        default_factory=dict
    )  # e.g. clip_model, fid_mode, allow_random_weights


@dataclass(frozen=True)
class StudyConfig:
    name: str
    protocol: str = "drawbench"
    images_per_set: int = 8
    ratings_per_item: int = 3
    gold_share: float = 0.05
    db: str | None = None
    votes: str | None = (
        None  # a votes CSV (e.g. an export) to include in the report instead of the DB
    )


@dataclass(frozen=True)
class RunConfig:
    out: str
    generators: tuple[GeneratorConfig, ...]
    seed: int = 0
    prompts: PromptsConfig = PromptsConfig()
    metrics: MetricsConfig | None = None
    study: StudyConfig | None = None
    title: str = "drawbench report"
    source: str = ""  # the file it came from

    @property
    def out_dir(self) -> Path:
        """Where the runs go; a relative ``out`` is relative to the current directory (like --out)."""
        return Path(self.out).expanduser()

    def run_dir(self, generator: GeneratorConfig) -> Path:
        return self.out_dir / generator.name

    @property
    def report_dir(self) -> Path:
        return self.out_dir / "report"

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "<config>") -> RunConfig:
        data = dict(data)
        gens = data.pop("generators", None)
        if not gens or not isinstance(gens, list):
            raise ConfigError(f"{source}: at least one [[generators]] table is required")
        generators = tuple(
            _build(GeneratorConfig, g, f"{source}: generators[{i}]") for i, g in enumerate(gens)
        )
        names = [g.name for g in generators]
        for i, g in enumerate(generators):
            if not isinstance(g.name, str) or not _RUN_NAME.match(g.name):
                raise ConfigError(
                    f"{source}: generators[{i}].name {g.name!r} must be a folder-safe name ([A-Za-z0-9._-])"
                )
            if g.name in names[:i]:
                raise ConfigError(
                    f"{source}: generators[{i}].name {g.name!r} is used twice; run names must be unique"
                )
            if not isinstance(g.options, dict):
                raise ConfigError(f"{source}: generators[{i}].options must be a table")
        sub = {}
        for key, sub_cls in (
            ("prompts", PromptsConfig),
            ("metrics", MetricsConfig),
            ("study", StudyConfig),
        ):
            if key in data:
                sub[key] = _build(sub_cls, data.pop(key), f"{source}: [{key}]")
        if "metrics" in sub:
            sub["metrics"] = MetricsConfig(
                **{**sub["metrics"].__dict__, "names": tuple(sub["metrics"].names)}
            )
        top = _build(_Top, data, source)
        cfg = cls(
            out=top.out, generators=generators, seed=top.seed, title=top.title, source=source, **sub
        )
        cfg.check_values()
        return cfg

    def check_values(self) -> None:
        p = self.prompts
        if not isinstance(p.images_per_prompt, int) or p.images_per_prompt < 1:
            raise ConfigError(f"{self.source}: [prompts] images_per_prompt must be an integer >= 1")
        if p.limit is not None and (not isinstance(p.limit, int) or p.limit < 1):
            raise ConfigError(f"{self.source}: [prompts] limit must be an integer >= 1")
        if not isinstance(self.seed, int):
            raise ConfigError(f"{self.source}: seed must be an integer")
        if (
            self.study
            and self.study.images_per_set > p.images_per_prompt
            and self.study.protocol == "drawbench"
        ):
            raise ConfigError(
                f"{self.source}: [study] images_per_set ({self.study.images_per_set}) exceeds "
                f"[prompts] images_per_prompt ({p.images_per_prompt})"
            )


@dataclass(frozen=True)
class _Top:
    out: str
    seed: int = 0
    title: str = "drawbench report"


def load_run_config(path: str | Path) -> RunConfig:
    """Read and validate a ``drawbench run`` TOML file (no model, no network)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: invalid TOML ({err})") from None
    return RunConfig.from_dict(data, source=str(path))
