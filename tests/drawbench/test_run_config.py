import pytest

from drawbench.pipeline.config import ConfigError, RunConfig, load_run_config

GOOD = """
out = "exp"
seed = 3
[prompts]
set = "drawbench"
images_per_prompt = 2
[[generators]]
name = "a"
generator = "solid"
[[generators]]
name = "b"
generator = "solid"
options = { variant = 1 }
[metrics]
names = ["clip", "fid"]
"""


def test_good_config(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(GOOD)
    cfg = load_run_config(path)
    assert [g.name for g in cfg.generators] == ["a", "b"]
    assert cfg.generators[1].options == {"variant": 1}
    assert cfg.metrics.names == ("clip", "fid")
    assert (
        str(cfg.run_dir(cfg.generators[0])) == "exp/a"
    )  # relative to the current directory, like --out
    assert str(cfg.report_dir) == "exp/report"


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda s: s.replace("seed = 3", "sed = 3"), r"c\.toml: unknown key 'sed'"),
        (
            lambda s: s.replace("images_per_prompt = 2", "images_per_prompt = 2\nimages = 1"),
            r"\[prompts\]: unknown key 'images'",
        ),
        (
            lambda s: s.replace('name = "b"', 'name = "a"'),
            r"generators\[1\]\.name 'a' is used twice",
        ),
        (lambda s: s.replace('name = "b"', 'name = "b/../x"'), r"must be a folder-safe name"),
        (
            lambda s: s.replace('generator = "solid"\n[[', "[["),
            r"generators\[0\]: missing required key 'generator'",
        ),
        (
            lambda s: s.replace("images_per_prompt = 2", "images_per_prompt = 0"),
            r"images_per_prompt must be an integer >= 1",
        ),
        (lambda s: s.split("[[generators]]")[0], r"at least one \[\[generators\]\] table"),
        (lambda s: s.replace('out = "exp"', ""), r"missing required key 'out'"),
        (
            lambda s: s + "\n[study]\nprotocol = 'drawbench'\n",
            r"\[study\]: missing required key 'name'",
        ),
        (
            lambda s: s + "\n[study]\nname = 's'\nimages_per_set = 8\n",
            r"images_per_set \(8\) exceeds",
        ),
        (lambda s: s + "\n[[[", r"invalid TOML"),
    ],
)
def test_bad_configs_name_the_key(tmp_path, edit, match):
    path = tmp_path / "c.toml"
    path.write_text(edit(GOOD))
    with pytest.raises(ConfigError, match=match):
        load_run_config(path)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        load_run_config(tmp_path / "nope.toml")


def test_from_dict_direct():
    cfg = RunConfig.from_dict({"out": "/abs", "generators": [{"name": "x", "generator": "solid"}]})
    assert str(cfg.out_dir) == "/abs" and cfg.metrics is None and cfg.prompts.images_per_prompt == 4
