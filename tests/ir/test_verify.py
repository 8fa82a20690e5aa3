"""The IR verifier (allo_rtl/ir/verify.py): it accepts what the frontend and passes
produce (the whole suite runs with ALLO_RTL_VERIFY=1) and rejects broken IR."""

import copy

import pytest

import allo_rtl as allo
from allo_rtl.ir.nodes import Assign, BinOp, CallStmt, Const, Load, ResultSpec, Store, Var
from allo_rtl.ir.types import Index, Int, int32
from allo_rtl.ir.verify import VerifyError, enabled, verify_module


def _kernel():
    def callee(X: int32[4]) -> int32:
        return X[0]

    def k(A: int32[4], B: int32[4]) -> int32:
        s: int32 = 0
        for i in range(4):
            B[i] = A[i] + 1
            s = s + callee(B)
        return s

    return allo.customize(k).module


def _loop(m):
    return next(s for s in m.funcs["k"].body if hasattr(s, "var"))


def test_the_suite_runs_with_the_verifier_on():
    assert enabled()
    verify_module(_kernel(), "test")


@pytest.mark.parametrize("breakage, message", [
    (lambda m: _loop(m).body.insert(0, Assign("t", Var("nope", int32))),
     "variable 'nope' is read before it is defined"),
    (lambda m: _loop(m).body.insert(0, Store("A", (Var("i", Index()),) * 2, Const(1, int32))),
     "'A' of rank 1 indexed with 2 indices"),
    (lambda m: _loop(m).body.insert(0, Store("A", (Var("i", Index()),), Const(1, Int(8)))),
     "value stored to 'A' has type i8, expected i32"),
    (lambda m: _loop(m).body.insert(0, Store("Z", (Var("i", Index()),), Const(1, int32))),
     "buffer 'Z' is not a tensor parameter or declared tensor"),
    (lambda m: _loop(m).body.insert(0, Assign("s", Load("A", (Var("i", Index()), Const(0, Index())),
                                                        int32))),
     "'A' of rank 1 read with 2 indices"),
    (lambda m: _loop(m).body.insert(0, Assign("c", BinOp("lt", Const(1, int32), Const(2, int32),
                                                         int32))),
     "comparison 'lt' gives a i32 value"),
    (lambda m: _loop(m).body.insert(0, CallStmt("gone", [], [])),
     "call to missing function 'gone'"),
    (lambda m: setattr(_loop(m), "step", 0), "has step 0"),
    (lambda m: next(s for s in _loop(m).body if isinstance(s, CallStmt)).args.clear(),
     "passes 0 arguments for 1 parameters"),
])
def test_broken_ir_is_reported_with_the_pass_and_statement(breakage, message):
    text = _broken(_kernel, breakage, "s.split", "function k: ")
    assert message in text
    assert "\n  in: " in text


def _broken(kernel, breakage, after, function):
    """The VerifyError text for ``kernel()``'s module broken by ``breakage``."""
    m = copy.deepcopy(kernel())
    breakage(m)
    with pytest.raises(VerifyError, match=f"after {after}: {function}") as e:
        verify_module(m, after)
    return str(e.value)


def test_missing_top_is_reported():
    m = _kernel()
    m.top = "nothing"
    with pytest.raises(VerifyError, match="top function 'nothing' missing"):
        verify_module(m)




def _dynamic_kernel():
    def callee(X: int32[...], n: int32):
        X[0] = n

    def k(A: int32[...], B: int32[4], n: int32):
        callee(A, n)
        callee(B, 4)

    return allo.customize(k).module


def test_dynamic_arrays_verify_and_print_with_a_question_mark():
    m = _dynamic_kernel()
    verify_module(m, "test")
    assert "func k(A: i32[?], B: i32[4], n: i32)" in str(m)


@pytest.mark.parametrize("breakage, message", [
    (lambda m: setattr(m.funcs["k"].params[0], "shape", (None, 4)),
     "parameter 'A' has shape (None, 4): the only dynamic shape is (None,)"),
    (lambda m: setattr(m.funcs["callee"].params[0], "shape", (4,)),
     "argument 'X' of callee: view A[None] [0 fixed] has shape (None,), expected (4,)"),
    (lambda m: m.funcs["k"].results.append(ResultSpec(int32, (None,))),
     "a result has the dynamic shape (None,)"),
])
def test_broken_dynamic_ir_is_reported(breakage, message):
    assert message in _broken(_dynamic_kernel, breakage, "test", "function ")
