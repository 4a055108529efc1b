"""Choose a plugin class by name: installed entry points first, then built-in names."""

from importlib import import_module
from importlib.metadata import entry_points


class NamedPlugin:
    """The root of a kind of plugin (``class Runner(NamedPlugin, kind=True)``): every
    plugin of that kind must set ``name``, the value that selects it (``GRADER_RUNNER``,
    ``GRADER_EXPORTERS``)."""

    name = ""

    def __init_subclass__(cls, kind=False, **kwargs):
        super().__init_subclass__(**kwargs)
        if not kind and not cls.name:
            raise TypeError(f"{cls.__name__} must set a non-empty class attribute 'name'")


def load_class(group, name, builtins):
    """Return the class registered as ``name`` in entry-point ``group`` or in ``builtins``.

    ``builtins`` maps names to ``"module:Class"`` strings so a source checkout works
    without the package being installed; ``name`` itself may be such a string.
    """
    if ":" in name:
        return _import(name)
    for ep in entry_points(group=group):
        if ep.name == name:
            return ep.load()
    if name in builtins:
        return _import(builtins[name])
    known = sorted({ep.name for ep in entry_points(group=group)} | builtins.keys())
    raise ValueError(f"unknown {group} plugin {name!r}; choose one of {known}")


def _import(spec):
    module, _, attr = spec.partition(":")
    return getattr(import_module(module), attr)
