"""Streams have no RTL lowering yet: building them for target="rtl" stops with a clear
AlloError at the stream's kernel line (never wrong hardware, never a deep traceback)."""

import pytest

import allo_rtl as allo
import allo_rtl.dataflow as df
from allo_rtl import AlloError
from allo_rtl.ir.types import Stream, int32

from ..conftest import line_of
from .test_regions import producer_consumer

pytestmark = pytest.mark.rtl


def test_rtl_build_of_a_region_with_streams_is_a_clear_error():
    for build in (lambda: df.build(producer_consumer),
                  lambda: df.build(producer_consumer, target="rtl"),
                  lambda: df.customize(producer_consumer).report()):
        with pytest.raises(AlloError) as info:
            build()
        err = info.value
        assert "streams and dataflow regions are not supported by target='rtl' yet" in err.msg
        assert "target='sim'" in err.hint
        assert err.loc.line == line_of(producer_consumer.fn, "pipe.put(out)")


def test_rtl_build_of_a_kernel_with_a_local_stream_is_a_clear_error():
    def k(A: int32[4]):
        q: Stream[int32, 4]
        q.put(A[0])
        A[1] = q.get()

    with pytest.raises(AlloError, match="not supported by target='rtl' yet") as info:
        allo.customize(k).build(target="rtl")
    assert info.value.loc.line == line_of(k, "q: Stream[int32, 4]")
