"""Bad kernels: each raises AlloError naming the kernel line and what is wrong."""

import numpy as np
import pytest

import allo_rtl as allo
from allo_rtl import AlloError
from allo_rtl.ir.types import float32, int32, uint8

from ..conftest import line_of


def helper_kernel(A: int32[4]) -> int32[4]:
    return A


def k_undefined(A: int32[4]):
    A[0] = undefined_name  # noqa: F821


def k_break(A: int32[4]):
    for i in range(4):
        break


def k_continue(A: int32[4]):
    for i in range(4):
        continue


def k_for_else(A: int32[4]):
    for i in range(4):
        A[i] = 0
    else:
        A[0] = 1


def k_no_annotation(A, B: int32[4]):
    pass


def k_star_args(*A: int32):
    pass


def k_bad_iter(A: int32[4]):
    for x in [1, 2, 3]:
        A[0] = x


def k_zero_step(A: int32[4]):
    for i in range(0, 4, 0):
        A[i] = 0


def k_negative_step(A: int32[4]):
    for i in range(4, 0, -1):
        A[i] = 0


def k_dynamic_step(A: int32[4], s: int32):
    for i in range(0, 4, s):
        A[i] = 0


def k_loopvar_redeclared(A: int32[4]):
    for i in range(4):
        for i in range(4):
            A[i] = 0


def k_assign_loopvar(A: int32[4]):
    for i in range(4):
        i = 2


def k_too_many_indices(A: int32[4]):
    A[0, 1] = 2


def k_index_out_of_range(A: int32[4]):
    A[7] = 2


def k_float_index(A: int32[4], f: float32):
    A[f] = 1


def k_shift_float(a: float32) -> float32:
    return a << 1


def k_bitwise_float(a: float32, b: float32) -> float32:
    return a & b


def k_bit_of_float(a: float32) -> int32:
    return a[0]


def k_tensor_to_scalar(A: int32[4]):
    x: int32 = A


def k_shape_mismatch_call(A: int32[8]):
    B = helper_kernel(A)


def k_type_mismatch_call(A: float32[4]):
    B = helper_kernel(A)


def k_arg_count_call(A: int32[4]):
    B = helper_kernel(A, A)


def k_return_count(A: int32[4]) -> int32:
    return 1, 2


def k_missing_return(A: int32[4]) -> int32:
    x: int32 = 0


def k_return_shape(A: int32[4]) -> int32[8]:
    return A


def k_try(A: int32[4]):
    try:
        A[0] = 1
    except Exception:
        pass


def k_chained_assign(A: int32[4]):
    x = y = 1


def k_grid_mismatch(A: int32[4, 4]):
    for i, j in allo.grid(4):
        A[i, j] = 0


def k_bad_type(A: "foo"):  # noqa: F821
    pass


def k_dynamic_mixed(A: float32[..., 4]):
    pass


def k_dynamic_local(A: int32[...]):
    B: int32[...] = 0


def k_dynamic_return(A: int32[...]) -> int32[...]:
    return A


def k_dynamic_2d_index(A: int32[...], n: int32):
    for i in range(n):
        A[i, 0] = 1


def k_dynamic_whole_arith(A: int32[...]):
    B = A + 1


def k_dynamic_builtin(A: float32[...]):
    B = allo.exp(A)


def k_dynamic_slice(A: int32[...]):
    A[0:2] = 1


def k_dynamic_negative_index(A: int32[...]):
    A[-1] = 0


def k_dynamic_len(A: int32[...]):
    n = len(A)


def k_dynamic_shape_attr(A: int32[...]):
    n = A.shape[0]


def k_dynamic_to_static_call(A: int32[...]):
    B = helper_kernel(A)


def k_dynamic_init_copy(A: int32[...]):
    B: int32[4] = A


def k_dynamic_returned(A: int32[...]) -> int32[4]:
    return A


def dyn_helper(X: int32[...], n: int32):
    for i in range(n):
        X[i] = 0


def k_2d_to_dynamic_call(B: int32[2, 2]):
    dyn_helper(B, 4)


def k_bad_dim(A: int32[0]):
    pass


def k_meta_elif_without_if(A: int32[4]):
    with allo.meta_elif(True):
        A[0] = 1


def k_meta_if_runtime(A: int32[4], n: int32):
    with allo.meta_if(n > 2):
        A[0] = 1


def k_bit_slice_width(a: uint8, i: int32) -> uint8:
    return a[0:i]


def k_while_true(A: int32[4]):
    while True:
        A[0] = 1


def k_call_unknown(A: int32[4]):
    A[0] = print(3)


def k_slice_out_of_range(A: int32[4], B: int32[2]):
    A[2:6] = B


def k_assign_tensor_to_element(A: int32[4], B: int32[4]):
    A[0] = B


def k_lambda(A: int32[4]):
    f = lambda x: x  # noqa: E731


def k_bad_loop_kw(A: int32[4]):
    for i in allo.grid(4, tile=2):
        A[i] = 0


def k_matmul_shapes(A: int32[4, 3], B: int32[4, 3]) -> int32[4, 3]:
    return allo.matmul(A, B)


def k_broadcast(A: int32[4], B: int32[3]) -> int32[4]:
    return A + B


def k_const_assign(A: int32[4]):
    c: allo.ConstExpr[int32] = 3
    c = 4


def k_global_stmt(A: int32[4]):
    global G
    A[0] = 1


CASES = [
    (k_undefined, "undefined_name", "name 'undefined_name' is not defined"),
    (k_break, "        break", "'break' is not supported"),
    (k_continue, "        continue", "'continue' is not supported"),
    (k_for_else, "for i in range(4):", "for-else is not supported"),
    (k_no_annotation, "def k_no_annotation", "parameter 'A' of kernel 'k_no_annotation' has no type annotation"),
    (k_star_args, "def k_star_args", "plain positional parameters"),
    (k_bad_iter, "for x in", "kernel loops iterate over range"),
    (k_zero_step, "range(0, 4, 0)", "loop step must be positive, not 0"),
    (k_negative_step, "range(4, 0, -1)", "loop step must be positive, not -1"),
    (k_dynamic_step, "range(0, 4, s)", "loop step must be a compile-time integer"),
    (k_loopvar_redeclared, "        for i in range(4):", "loop variable 'i' is already used"),
    (k_assign_loopvar, "i = 2", "cannot assign to loop variable 'i'"),
    (k_too_many_indices, "A[0, 1] = 2", "too many indices"),
    (k_index_out_of_range, "A[7] = 2", "index 7 is out of range"),
    (k_float_index, "A[f] = 1", "tensor index must be an integer"),
    (k_shift_float, "a << 1", "cannot shift f32"),
    (k_bitwise_float, "a & b", "bitwise operation on non-integer type"),
    (k_bit_of_float, "a[0]", "bit access needs an integer value"),
    (k_tensor_to_scalar, "x: int32 = A", "cannot initialize scalar 'x' with a tensor"),
    (k_shape_mismatch_call, "B = helper_kernel(A)", "shape mismatch in call to helper_kernel"),
    (k_type_mismatch_call, "B = helper_kernel(A)", "type mismatch in call to helper_kernel"),
    (k_arg_count_call, "B = helper_kernel(A, A)", "takes 1 argument(s), got 2"),
    (k_return_count, "return 1, 2", "return has 2 value(s)"),
    (k_missing_return, "def k_missing_return", "does not end with a return statement"),
    (k_return_shape, "return A", "returned tensor has shape [4]"),
    (k_try, "try:", "try/except is not supported"),
    (k_chained_assign, "x = y = 1", "chained assignment"),
    (k_grid_mismatch, "allo.grid(4)", "grid() has 1 dimension(s) but 2 loop variable(s)"),
    (k_bad_type, "def k_bad_type", "name 'foo' is not defined"),
    (k_dynamic_mixed, "def k_dynamic_mixed", "dynamic shape f32[..., 4]: only a whole dynamic "
     "shape T[...] is supported"),
    (k_dynamic_local, "B: int32[...] = 0", "'B' cannot have a dynamic shape (T[...])"),
    (k_dynamic_return, "def k_dynamic_return", "cannot return a tensor of dynamic shape"),
    (k_dynamic_2d_index, "A[i, 0] = 1", "too many indices: tensor has 1 dimension(s), got 2"),
    (k_dynamic_whole_arith, "B = A + 1", "whole-tensor arithmetic needs a compile-time shape, "
     "but 'A' is a dynamic array (i32[...])"),
    (k_dynamic_builtin, "B = allo.exp(A)", "allo.exp() needs a compile-time shape"),
    (k_dynamic_slice, "A[0:2] = 1", "slicing needs a compile-time shape"),
    (k_dynamic_negative_index, "A[-1] = 0", "index -1 of dynamic array 'A': negative indices "
     "need the length"),
    (k_dynamic_len, "n = len(A)", "len() needs a compile-time shape"),
    (k_dynamic_shape_attr, "n = A.shape[0]", "'.shape' needs a compile-time shape"),
    (k_dynamic_to_static_call, "B = helper_kernel(A)", "argument 'A' expects [4], got the "
     "dynamic array 'A' (i32[...])"),
    (k_dynamic_init_copy, "B: int32[4] = A", "initializing a tensor from another needs a "
     "compile-time shape"),
    (k_dynamic_returned, "return A", "returning a tensor needs a compile-time shape"),
    (k_2d_to_dynamic_call, "dyn_helper(B, 4)", "argument 'X' is a dynamic 1-D array (i32[...]), "
     "got a tensor of shape [2, 2]"),
    (k_bad_dim, "def k_bad_dim", "tensor dimension must be a positive integer"),
    (k_meta_elif_without_if, "with allo.meta_elif", "meta_elif without a preceding meta_if"),
    (k_meta_if_runtime, "n > 2", "meta_if condition must be known at compile time"),
    (k_bit_slice_width, "a[0:i]", "bit slice width must be a compile-time constant"),
    (k_while_true, "while True", "never ends"),
    (k_call_unknown, "print(3)", "compile-time call of print returned None"),
    (k_slice_out_of_range, "A[2:6] = B", "slice 2:6:1 is out of range"),
    (k_assign_tensor_to_element, "A[0] = B", "cannot store a tensor into one element"),
    (k_lambda, "f = lambda", "Lambda expressions are not supported"),
    (k_bad_loop_kw, "allo.grid(4, tile=2)", "unknown loop keyword 'tile'"),
    (k_matmul_shapes, "allo.matmul(A, B)", "matmul shapes [4, 3] x [4, 3] do not match"),
    (k_broadcast, "return A + B", "shapes [4] and [3] cannot be broadcast"),
    (k_const_assign, "c = 4", "cannot assign to ConstExpr 'c'"),
    (k_global_stmt, "global G", "global is not supported"),
]


@pytest.mark.parametrize("fn,snippet,msg", CASES, ids=[c[0].__name__ for c in CASES])
def test_bad_kernel_reports_line_and_message(fn, snippet, msg):
    with pytest.raises(AlloError) as info:
        allo.customize(fn)
    err = info.value
    assert msg in err.msg, err.render()
    assert err.loc is not None, err.render()
    assert err.loc.line == line_of(fn, snippet), err.render()
    text = str(err)
    assert f":{err.loc.line}: error:" in text and "^" in text


def test_error_is_a_normal_exception_not_sys_exit():
    assert issubclass(AlloError, Exception) and not issubclass(AlloError, SystemExit)


def test_wrong_argument_count_and_shape_at_call_time():
    def k(A: int32[4]) -> int32[4]:
        return A

    mod = allo.customize(k).build(target="sim")
    with pytest.raises(AlloError, match="takes 1 argument"):
        mod()
    with pytest.raises(AlloError, match=r"has shape \[5\], expected \[4\]"):
        mod(np.zeros(5, np.int32))
    with pytest.warns(allo.AlloWarning, match="float64 array converted"):
        mod(np.zeros(4))


def test_unsupported_primitive_raises_not_silently_ignored():
    def k(A: int32[4]):
        for i in range(4):
            A[i] = 0

    s = allo.customize(k)
    # dataflow on a loop pipelines the iterations of a body of calls; plain code is refused
    with pytest.raises(AlloError, match="the loop body holds a store statement") as info:
        s.dataflow(s.get_loops("k").S_i_0.i)
    assert info.value.loc.line == line_of(test_unsupported_primitive_raises_not_silently_ignored,
                                          "A[i] = 0")
    # on a function it makes a dataflow region of its calls and loop nests
    def k2(A: int32[4]):
        A[0] = 1

    with pytest.raises(AlloError, match="k2 has a store statement in its body"):
        allo.customize(k2).dataflow("k2")


def test_vendor_target_rejected_with_supported_list():
    def k(A: int32[4]):
        pass

    with pytest.raises(AlloError, match="supported targets: rtl, sim"):
        allo.customize(k).build(target="vhls")
