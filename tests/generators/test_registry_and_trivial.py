"""The generator registry (names, entry points, module:attribute) and the trivial generators."""

from __future__ import annotations

import pytest

from generators import registry
from generators.base import Generator
from generators.registry import (
    accepts_option,
    check_generator_options,
    create_generator,
    list_generators,
)
from generators.trivial import NoiseGenerator, SolidColorGenerator


def test_builtin_names_are_listed():
    assert {"folder", "diffusers", "python", "solid", "noise"} <= set(list_generators())


def test_unknown_name_lists_available_ones():
    with pytest.raises(
        ValueError, match=r"unknown generator 'dalle'; available: diffusers, folder, .*solid"
    ):
        create_generator("dalle")


def test_module_attribute_names_and_entry_points(monkeypatch):
    gen = create_generator("generators.trivial:SolidColorGenerator", width=4, height=4)
    assert isinstance(gen, Generator)

    class FakeEntryPoint:
        name = "thirdparty"

        def load(self):
            return NoiseGenerator

    monkeypatch.setattr(registry, "_entry_points", lambda: {"thirdparty": FakeEntryPoint()})
    assert "thirdparty" in list_generators()
    assert isinstance(create_generator("thirdparty", width=4, height=4), NoiseGenerator)


def _probe(a, b=1):
    return None


def test_check_generator_options_uses_check_options_or_the_signature(monkeypatch):
    monkeypatch.setattr(registry, "_probe", _probe, raising=False)
    with pytest.raises(ValueError, match=r"solid: unknown option\(s\) size"):
        check_generator_options("solid", size=3)

    def factory(a, b=1):
        return None

    with pytest.raises(
        ValueError, match=r"bad options \(missing a required argument: 'a'\); accepted: a, b"
    ):
        check_generator_options("generators.registry:_probe", b=2)
    assert accepts_option(factory, "b") and not accepts_option(factory, "device")
    assert accepts_option(lambda **kw: None, "device")


def test_solid_colour_is_a_pure_function_of_prompt_and_seed():
    gen = SolidColorGenerator(width=5, height=3)
    a, b, c, d = gen.generate(["cat", "cat", "dog", "cat"], [1, 2, 1, 1])
    assert a.size == (5, 3) and a.mode == "RGB"
    assert a.tobytes() == d.tobytes()
    assert len({im.getpixel((0, 0)) for im in (a, b, c)}) == 3
    assert SolidColorGenerator(5, 3).color("cat", 1) == a.getpixel((4, 2))


def test_noise_depends_on_variant_prompt_and_seed():
    one, two = NoiseGenerator(8, 8, variant=1), NoiseGenerator(8, 8, variant=2)
    x = one.generate(["cat", "cat"], [1, 1])
    assert x[0].tobytes() == x[1].tobytes()
    assert one.generate(["cat"], [2])[0].tobytes() != x[0].tobytes()
    assert two.generate(["cat"], [1])[0].tobytes() != x[0].tobytes()
    assert one.describe() == {"name": "noise", "width": 8, "height": 8, "variant": 1}


@pytest.mark.parametrize(
    ("cls", "options", "message"),
    [
        (SolidColorGenerator, {"width": 0}, "width must be a positive integer"),
        (SolidColorGenerator, {"height": True}, "height must be a positive integer"),
        (NoiseGenerator, {"variant": 1.5}, "variant must be an integer or a string"),
        (
            NoiseGenerator,
            {"colour": 1},
            r"unknown option\(s\) colour; accepted: width, height, variant",
        ),
    ],
)
def test_trivial_options_are_checked(cls, options, message):
    with pytest.raises(ValueError, match=message):
        cls.check_options(**options)
