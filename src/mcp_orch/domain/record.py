"""``Record``: the class syntax of ``typing.NamedTuple`` at a fraction of its start-up cost.

Every ``orch`` process builds a dozen record classes before it does any work. With
``typing.NamedTuple`` that costs ~5 ms of a ~40 ms command: importing ``typing`` itself, then a
``ForwardRef`` compiled for every annotation of every field (the annotations are strings under
``from __future__ import annotations``). ``Record`` builds the same class with
``collections.namedtuple`` (already imported by the standard library at start-up) and never
looks at the annotations' values, only their names.

Type checkers see ``typing.NamedTuple`` itself, so field types are checked as usual. Write a
record exactly like a ``NamedTuple``: annotated fields (defaults last), methods, properties and
class attributes; no ``super()`` in methods and no metaclass keywords.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NamedTuple as Record
else:
    from collections import namedtuple as _namedtuple

    # Names of a class body that the named tuple defines itself or that must not be copied.
    _NOT_COPIED = frozenset(
        {"__module__", "__qualname__", "__annotations__", "__doc__", "__classcell__"}
    )

    class _RecordMeta(type):
        def __new__(mcs, name, bases, namespace):
            if not bases:  # the ``Record`` base itself
                return super().__new__(mcs, name, bases, namespace)
            if "__annotations__" not in namespace:
                raise TypeError(
                    f"record {name} has no annotated fields "
                    "(its module needs 'from __future__ import annotations')"
                )
            fields = tuple(namespace["__annotations__"])
            defaults = [namespace[f] for f in fields if f in namespace]
            if any(f not in namespace for f in fields[len(fields) - len(defaults) :]):
                raise TypeError(f"record {name}: fields with defaults must come last")
            cls = _namedtuple(name, fields, defaults=defaults, module=namespace["__module__"])
            cls.__qualname__ = namespace.get("__qualname__", name)
            if namespace.get("__doc__"):
                cls.__doc__ = namespace["__doc__"]
            for key, value in namespace.items():
                if key not in _NOT_COPIED and key not in fields:
                    setattr(cls, key, value)
            return cls

    class Record(metaclass=_RecordMeta):
        """Base of a typed immutable record (see the module's docstring)."""


__all__ = ["Record"]
