"""The ``python`` adapter: ``module:function`` callables f(prompts, seeds) -> images."""

from __future__ import annotations

import sys
import types

import pytest

from generators.base import GeneratorError
from generators.python_callable import PythonCallableGenerator
from generators.registry import create_generator
from generators.trivial import SolidColorGenerator


@pytest.fixture
def module(monkeypatch):
    mod = types.ModuleType("drawbench_test_callables")
    solid = SolidColorGenerator(4, 4)
    mod.make = lambda prompts, seeds, scale=1: solid.generate(prompts, [s * scale for s in seeds])
    mod.single = lambda prompts, seeds: solid.generate(prompts, seeds)[0]
    mod.ns = types.SimpleNamespace(make=mod.make)
    mod.CONSTANT = 3
    monkeypatch.setitem(sys.modules, mod.__name__, mod)
    return mod


def test_calls_the_function_with_prompts_seeds_and_kwargs(module):
    gen = create_generator("python", callable="drawbench_test_callables:make", kwargs={"scale": 2})
    (image,) = gen.generate(["a cat"], [5])
    assert image.getpixel((0, 0)) == SolidColorGenerator().color("a cat", 10)
    assert gen.describe()["callable"] == "drawbench_test_callables:make"
    assert gen.describe()["kwargs"] == {"scale": 2}


def test_dotted_attribute(module):
    gen = create_generator("python", callable="drawbench_test_callables:ns.make")
    assert len(gen.generate(["a", "b"], [1, 2])) == 2


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "missing option callable"),
        ({"callable": "no_colon"}, "must look like 'module:function'"),
        ({"callable": "no_such_module_xyz:f"}, "cannot import module 'no_such_module_xyz'"),
        ({"callable": "drawbench_test_callables:nope"}, "has no attribute 'nope'"),
        ({"callable": "drawbench_test_callables:CONSTANT"}, "is a int, not a callable"),
        (
            {"callable": "drawbench_test_callables:make", "kwargs": [1]},
            "kwargs must be a JSON object",
        ),
        ({"callable": "drawbench_test_callables:make", "extra": 1}, r"unknown option\(s\) extra"),
    ],
)
def test_bad_options(module, options, message):
    with pytest.raises(ValueError, match=message):
        PythonCallableGenerator.check_options(**options)


def test_returning_a_single_image_is_an_error(module):
    gen = create_generator("python", callable="drawbench_test_callables:single")
    with pytest.raises(GeneratorError, match="returned a Image; it must return a list"):
        gen.generate(["a"], [1])
