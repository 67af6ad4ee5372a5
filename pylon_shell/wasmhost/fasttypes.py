"""Component types looked up once, not on every call across the boundary.

wasmtime-py asks the C API for a function's types on every call, and for a
variant's cases every time it lifts or lowers one (twice, in fact: once to
learn whether it is tagged). For pylon's cap interfaces (results of records
of lists of variants) that was most of a call's cost: 10k SQLite inserts
through the provider component spent 0.8 s of 2.2 s in `VariantType.cases`.
Types never change once a component is loaded, so this keeps them: on the
`Func` (its `FuncType`), on each type object (cases, fields, elements), and
for host functions by their slot in wasmtime-py's function table (dropped
when wasmtime finalizes the slot, before the slot can be reused). Values are
converted by wasmtime-py's own code, unchanged. Installed once, before the
first component is linked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_INSTALLED = False


def _memo(cls: type, name: str) -> None:
    """Cache a property or an argument-less method per instance."""
    original = cls.__dict__[name]
    is_property = isinstance(original, property)
    compute: Callable[[Any], Any] = original.fget if is_property else original
    key = f"_pylon_{name}"

    def cached(self: Any) -> Any:
        found = self.__dict__.get(key, _MISSING)
        if found is _MISSING:
            found = compute(self)
            self.__dict__[key] = found
        return found

    setattr(cls, name, property(cached, doc=original.__doc__) if is_property else cached)


_MISSING = object()


def install() -> None:
    global _INSTALLED
    if _INSTALLED:
        return
    from wasmtime.component import _func, _linker, _types

    for cls, name in (
        (_types.FuncType, "params"),
        (_types.FuncType, "result"),
        (_types.VariantLikeType, "_tagged"),
        (_types.VariantType, "_cases"),
        (_types.OptionType, "_cases"),
        (_types.ResultType, "_cases"),
        (_types.RecordType, "fields"),
        (_types.TupleType, "elements"),
        (_types.ListType, "element"),
    ):
        _memo(cls, name)

    # A Func belongs to one store, so its type is the same on every call.
    func_type = _func.Func.type

    def cached_type(self: Any, store: Any) -> Any:
        found = self.__dict__.get("_pylon_type")
        if found is None:
            found = self.__dict__["_pylon_type"] = func_type(self, store)
        return found

    # Patching wasmtime-py's Func.type is this module's job (see its docstring).
    _func.Func.type = cached_type  # type: ignore[method-assign]

    # Host functions: wasmtime hands their type to every call; keep the
    # lifted parameter and result types per function-table slot.
    host_types: dict[int, tuple[list[Any], Any]] = {}
    functions = _linker.FUNCTIONS
    catch_exceptions = _linker.catch_exceptions
    ffi = _linker.ffi

    @ffi.wasmtime_component_func_callback_t
    def func_impl(idx, context, ty_raw, args, nargs, results, nresults):  # noqa: ANN001, ANN202
        def run(store: Any) -> None:
            slot = idx or 0
            types = host_types.get(slot)
            if types is None:
                with _types.FuncType._from_ptr(ty_raw, owner=store) as fty:
                    types = host_types[slot] = (fty.params, fty.result)
            param_tys, result_ty = types
            func = functions.get(slot)
            pyargs = [
                ty.convert_from_c(args[i])
                for (_, ty), i in zip(param_tys, range(nargs), strict=True)
            ]
            result = func(store, *pyargs)
            if result_ty is not None:
                result_ty.convert_to_c(store, result, results)

        return catch_exceptions(context, run)

    original_finalize = _linker.func_finalize

    @_linker.CFUNCTYPE(None, _linker.c_void_p)
    def func_finalize(idx):  # noqa: ANN001, ANN202
        host_types.pop(idx or 0, None)
        return original_finalize(idx)

    _linker.func_impl = func_impl
    _linker.func_finalize = func_finalize
    _INSTALLED = True
