"""Text-to-image generators: the Generator protocol, the registry and the adapters."""

from generators.base import Generator, GeneratorError
from generators.registry import create_generator, get_generator_factory, list_generators

__all__ = [
    "Generator",
    "GeneratorError",
    "create_generator",
    "get_generator_factory",
    "list_generators",
]
