"""DesignSpec validation."""

import pytest

from testbench import DesignSpec, MemSpec, PortSpec
from testbench.spec import addr_width


@pytest.mark.parametrize("depth, width", [(1, 1), (2, 1), (3, 2), (4, 2), (5, 3), (16, 4), (17, 5), (1024, 10)])
def test_addr_width(depth, width):
    assert addr_width(depth) == width
    assert MemSpec("m", 8, depth).addr_width == width


def test_port_names():
    assert MemSpec("A", 32, 4).port_names() == ("A__haddr", "A__hwdata", "A__hwe", "A__hrdata")


def test_lists_become_tuples():
    spec = DesignSpec("k", [MemSpec("A", 8, 2)], [PortSpec("x", 3)], [])
    assert spec.memories == (MemSpec("A", 8, 2),) and spec.scalar_outputs == ()
    assert hash(spec) == hash(DesignSpec("k", (MemSpec("A", 8, 2),), (PortSpec("x", 3),)))


def test_errors():
    with pytest.raises(ValueError, match=r"memory 'A': width must be a positive integer, not 0"):
        MemSpec("A", 0, 4)
    with pytest.raises(ValueError, match=r"memory 'A': depth must be a positive integer, not 0"):
        MemSpec("A", 8, 0)
    with pytest.raises(TypeError, match=r"port 'x': width must be an integer, not 2.0"):
        PortSpec("x", 2.0)
    with pytest.raises(ValueError, match=r"port name must be a non-empty Verilog name"):
        PortSpec("a b", 1)
    with pytest.raises(ValueError, match=r"port name 'done' of scalar output clashes with control port"):
        DesignSpec("k", (), (), (PortSpec("done", 1),))
    with pytest.raises(ValueError, match=r"port name 'A__hwe' of scalar input clashes with memory 'A'"):
        DesignSpec("k", (MemSpec("A", 8, 2),), (PortSpec("A__hwe", 1),))
    with pytest.raises(TypeError, match=r"memories must hold MemSpec"):
        DesignSpec("k", (PortSpec("A", 1),))
