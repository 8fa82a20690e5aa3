import pytest

from tests.kernel_check import set_target


@pytest.fixture(autouse=True, params=["sim", pytest.param("rtl", marks=pytest.mark.rtl)])
def kernel_target(request):
    """Every kernel test runs on the interpreter, then again checking RTL == interpreter."""
    set_target(request.param)
    yield request.param
    set_target("sim")
