"""The IR verifier (allo_rtl/ir/verify.py): it accepts what the frontend and passes
produce (the whole suite runs with ALLO_RTL_VERIFY=1) and rejects broken IR."""

import copy

import pytest

import allo_rtl as allo
from allo_rtl.ir.nodes import Assign, BinOp, CallStmt, Const, Load, Store, Var
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
    m = copy.deepcopy(_kernel())
    breakage(m)
    with pytest.raises(VerifyError, match="after s.split: function k: ") as e:
        verify_module(m, "s.split")
    assert message in str(e.value)
    assert "\n  in: " in str(e.value)


def test_missing_top_is_reported():
    m = _kernel()
    m.top = "nothing"
    with pytest.raises(VerifyError, match="top function 'nothing' missing"):
        verify_module(m)


