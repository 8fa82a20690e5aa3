"""The type catalogue (Allo-compatible: ``from allo_rtl.ir.types import int32``).

Scalar types are value objects compared by name: ``Int(32) == int32``.
``T[M, N]`` builds a :class:`TypeAnnotation` (dtype + shape) so that kernel
signatures like ``A: int32[32, 32]`` also evaluate as plain Python.
``@`` (``int32[4] @ Memory(...)``) attaches a marker and returns the type, so
annotations stay valid Python expressions.
"""

from __future__ import annotations

__all__ = [
    "AlloType", "Int", "UInt", "Index", "Fixed", "UFixed", "Float", "Struct",
    "Stream", "TypeAnnotation", "ConstExpr", "Stateful", "Memory", "Layout",
    "index", "bool", "float16", "bfloat16", "float32", "float64",
    "is_int", "is_signed", "is_float", "is_fixed", "is_dynamic", "shape_str",
] + [f"int{n}" for n in (1, 2, 3, 4, 5, 6, 7, 8, 16, 32, 64, 128, 256, 512)] + [
    f"uint{n}" for n in (1, 2, 3, 4, 5, 6, 7, 8, 16, 32, 64, 128, 256, 512)
]


class AlloType:
    """Base of all scalar types. ``bits`` total width, ``fracs`` fraction bits."""

    def __init__(self, bits: int, fracs: int, name: str):
        self.bits = bits
        self.fracs = fracs
        self.name = name

    def __getitem__(self, sizes) -> "TypeAnnotation":
        if not isinstance(sizes, tuple):
            sizes = (sizes,)
        return TypeAnnotation(self, sizes)

    def __matmul__(self, other):
        return self

    def __eq__(self, other):
        return isinstance(other, AlloType) and self.name == other.name

    def __hash__(self):
        return hash(self.name)

    def __repr__(self):
        return self.name

    # Allo exposes .build() (MLIR); here a type is its own IR representation.
    def build(self):
        return self


def _check_bits(cls: str, bits, lo: int = 1) -> int:
    if not isinstance(bits, int) or isinstance(bits, bool_) or bits < lo:
        raise ValueError(f"{cls} width must be an integer >= {lo}, not {bits!r}")
    return bits


bool_ = type(True)


class Int(AlloType):
    """Signed two's-complement integer of any width >= 1."""

    def __init__(self, bits: int):
        super().__init__(_check_bits("Int", bits), 0, f"i{bits}")


class UInt(AlloType):
    """Unsigned integer of any width >= 1."""

    def __init__(self, bits: int):
        super().__init__(_check_bits("UInt", bits), 0, f"ui{bits}")


class Index(AlloType):
    """Loop induction variable type: behaves as a signed 32-bit integer."""

    def __init__(self):
        super().__init__(32, 0, "index")


class Fixed(AlloType):
    """Signed fixed point: ``bits`` total, ``fracs`` of them after the binary point."""

    def __init__(self, bits: int, fracs: int):
        _check_bits("Fixed", bits)
        if not isinstance(fracs, int) or fracs < 0 or fracs > 255:
            raise ValueError(f"Fixed fraction bits must be an integer in [0, 255], not {fracs!r}")
        super().__init__(bits, fracs, f"fixed({bits}, {fracs})")


class UFixed(AlloType):
    """Unsigned fixed point: ``bits`` total, ``fracs`` of them after the binary point."""

    def __init__(self, bits: int, fracs: int):
        _check_bits("UFixed", bits)
        if not isinstance(fracs, int) or fracs < 0 or fracs > 255:
            raise ValueError(f"UFixed fraction bits must be an integer in [0, 255], not {fracs!r}")
        super().__init__(bits, fracs, f"ufixed({bits}, {fracs})")


_FLOAT_NAMES = {(16, 10): "f16", (16, 7): "bf16", (32, 23): "f32", (64, 52): "f64"}


class Float(AlloType):
    """IEEE-754 binary float: ``Float(16, 10)``, ``Float(16, 7)`` (bfloat16), ``Float(32, 23)``, ``Float(64, 52)``."""

    def __init__(self, bits: int, fracs: int | None = None):
        if fracs is None:
            fracs = {16: 10, 32: 23, 64: 52}.get(bits)
        if (bits, fracs) not in _FLOAT_NAMES:
            raise ValueError(
                f"unsupported float format Float({bits}, {fracs}); "
                "supported: float16 (16, 10), bfloat16 (16, 7), float32 (32, 23), float64 (64, 52)"
            )
        super().__init__(bits, fracs, _FLOAT_NAMES[(bits, fracs)])
        self.exponent = bits - fracs - 1


class Struct(AlloType):
    """A record of named scalar fields, packed LSB-first in declaration order."""

    def __init__(self, dtype_dict: dict):
        self.dtype_dict = dict(dtype_dict)
        bits = sum(t.bits for t in self.dtype_dict.values())
        name = "struct{" + ", ".join(f"{k}: {v}" for k, v in self.dtype_dict.items()) + "}"
        super().__init__(bits, 0, name)

    def __getattr__(self, key):
        try:
            return self.__dict__["dtype_dict"][key]
        except KeyError:
            raise AttributeError(key) from None

    def __len__(self):
        return len(self.dtype_dict)


class TypeAnnotation:
    """``dtype[shape]``: what a tensor annotation evaluates to."""

    def __init__(self, dtype, shape: tuple):
        self.dtype = dtype
        self.shape = tuple(shape)

    def __matmul__(self, other):
        return self

    def __getitem__(self, sizes):  # Stream[T, d][P, Q]
        if not isinstance(sizes, tuple):
            sizes = (sizes,)
        return TypeAnnotation(self, sizes)

    def __repr__(self):
        return f"{self.dtype}[{', '.join(map(str, self.shape))}]"


class _StreamMeta(type):
    def __getitem__(cls, params):
        if not isinstance(params, tuple):
            params = (params,)
        dtype = params[0]
        depth = params[1] if len(params) > 1 else 2
        if isinstance(dtype, TypeAnnotation):
            return Stream(dtype.dtype, dtype.shape, depth)
        return Stream(dtype, (), depth)


class Stream(AlloType, metaclass=_StreamMeta):
    """A FIFO channel of ``dtype`` elements (or of ``dtype[shape]`` blocks) holding up to
    ``depth`` of them. ``Stream[T, depth]`` / ``Stream[T[M], depth]`` is the annotation form;
    ``Stream[T, depth][P0, P1]`` an array of streams. Argument order is Allo's
    ``Stream(dtype, shape, depth)``; ``bits`` is the width of one element (a whole block)."""

    def __init__(self, dtype, shape: tuple = (), depth: int = 2):
        if not isinstance(dtype, AlloType) or isinstance(dtype, Stream):
            raise TypeError(f"stream element type must be a scalar type such as int32, "
                            f"not {dtype!r}")
        if not isinstance(depth, int) or isinstance(depth, bool_) or depth < 1:
            raise ValueError(f"stream depth must be a positive integer, not {depth!r}")
        self.dtype = dtype
        self.depth = depth
        self.shape = tuple(int(n) for n in shape)
        n = 1
        for d in self.shape:
            n *= d
        sh = f"[{', '.join(map(str, self.shape))}]" if self.shape else ""
        super().__init__(dtype.bits * n, 0, f"stream<{dtype}{sh}, {depth}>")

    @property
    def is_block(self) -> bool:
        """True for a stream of tensors (``Stream[T[M], d]``)."""
        return len(self.shape) > 0


class _MarkerMeta(type):
    def __getitem__(cls, item):
        return item

    def __rmatmul__(cls, other):
        return other


class ConstExpr(metaclass=_MarkerMeta):
    """``c: ConstExpr[int32] = expr`` — a compile-time constant (evaluated at customize)."""


class Stateful(metaclass=_MarkerMeta):
    """``acc: int32 @ Stateful = 0`` — keeps its value across calls of one built module."""


_RESOURCES = {"AUTO": 0, "BRAM": 1, "URAM": 2, "LUTRAM": 3, "SRL": 4}
_STORAGES = {"RAM_1P": 1, "RAM_2P": 2, "RAM_T2P": 3, "RAM_1WNR": 4, "RAM_S2P": 5,
             "ROM_1P": 6, "ROM_2P": 7, "ROM_NP": 8}


class Memory:
    """Storage binding hint: ``A: int32[64] @ Memory(resource="BRAM", storage_type="RAM_2P")``."""

    def __init__(self, resource: str = "AUTO", storage_type: str | None = None,
                 latency: int | None = None, depth: int | None = None):
        resource = str(resource).upper()
        if resource not in _RESOURCES:
            raise ValueError(f"Invalid resource {resource!r}; choose one of {sorted(_RESOURCES)}")
        if storage_type is not None:
            storage_type = str(storage_type).upper()
            if storage_type not in _STORAGES:
                raise ValueError(f"Invalid storage_type {storage_type!r}; choose one of {sorted(_STORAGES)}")
        self.resource = resource
        self.storage_type = storage_type
        self.latency = latency
        self.depth = depth

    def get_memory_space(self) -> int:
        return 16 * _RESOURCES[self.resource] + (_STORAGES[self.storage_type] if self.storage_type else 0)

    def _key(self):
        return (self.resource, self.storage_type, self.latency, self.depth)

    def __eq__(self, other):
        return isinstance(other, Memory) and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def __rmatmul__(self, other):
        return other

    def __repr__(self):
        fields = [f'resource="{self.resource}"']
        if self.storage_type:
            fields.append(f'storage_type="{self.storage_type}"')
        if self.latency is not None:
            fields.append(f"latency={self.latency}")
        if self.depth is not None:
            fields.append(f"depth={self.depth}")
        return f"Memory({', '.join(fields)})"


class Layout:
    """Sharding layout marker (AIE-only in Allo); accepted in annotations, ignored by hardware."""

    def __init__(self, placement=None):
        self.placement = placement

    def __rmatmul__(self, other):
        return other


def is_dynamic(shape) -> bool:
    """True for the IR shape of a dynamic tensor parameter, ``A: float32[...]``.

    Allo lowers ``T[...]`` to a memref with one dynamic dimension (``memref<?xf32>``): a 1-D
    array whose length is known only at run time (sized by the numpy argument; kernels
    take the length as a scalar argument). In the IR that shape is ``(None,)``, printed
    ``f32[?]``. Only kernel parameters may have it."""
    return any(n is None for n in shape)


def shape_str(shape) -> str:
    """``[4, 4]``; a dynamic extent prints as ``?`` (``[?]``)."""
    return f"[{', '.join('?' if n is None else str(n) for n in shape)}]"


def is_int(t) -> bool:
    return isinstance(t, (Int, UInt, Index))


def is_signed(t) -> bool:
    return isinstance(t, (Int, Index, Fixed, Float))


def is_float(t) -> bool:
    return isinstance(t, Float)


def is_fixed(t) -> bool:
    return isinstance(t, (Fixed, UFixed))


index = Index()
bool = UInt(1)  # noqa: A001 - Allo's name
float16 = Float(16, 10)
bfloat16 = Float(16, 7)
float32 = Float(32, 23)
float64 = Float(64, 52)
for _n in (1, 2, 3, 4, 5, 6, 7, 8, 16, 32, 64, 128, 256, 512):
    globals()[f"int{_n}"] = Int(_n)
    globals()[f"uint{_n}"] = UInt(_n)
del _n
