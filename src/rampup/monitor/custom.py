"""User-defined input metrics, registered in the project file by import path.

.. code-block:: yaml

    models:
      photos:
        input_metrics:
          brightness: my_project.metrics:brightness   # def brightness(record) -> float

Each function takes one input record (the request's JSON object) and returns a number.
They run on the monitor's thread, never on the request path; an exception or a
non-numeric result is counted (``custom[name].errors``), never raised. Modules are
imported normally (install your project, or run from its folder); rampup does not
change ``sys.path``.

>>> fns = load_input_metrics({"m": {"n_keys": "builtins:len"}})
>>> fns["m"]["n_keys"]({"a": 1, "b": 2})
2
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

from rampup.errors import ConfigError

InputMetric = Callable[[Any], Any]


def load_function(path: str, where: str) -> InputMetric:
    """Import ``module:function`` (``function`` may be dotted); ConfigError naming ``where``."""
    module_name, _, attr = path.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"{where}: cannot import module {module_name!r} ({exc})",
                          fix="install the module or start rampup from the folder holding "
                              "it (check the spelling of 'module:function')") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ConfigError(f"{where}: module {module_name!r} has no {attr!r}",
                              fix="check the function name after the ':'")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ConfigError(f"{where}: {path!r} is not callable",
                          fix="point it at a function taking one record and returning a number")
    fn: InputMetric = obj
    return fn


def load_input_metrics(spec: Mapping[str, Mapping[str, str]]
                       ) -> dict[str, dict[str, InputMetric]]:
    """``{model: {name: "module:function"}}`` -> the functions, imported once at startup."""
    return {model: {name: load_function(path, f"models.{model}.input_metrics.{name}")
                    for name, path in metrics.items()}
            for model, metrics in spec.items() if metrics}
