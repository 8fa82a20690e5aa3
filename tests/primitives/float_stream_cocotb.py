"""cocotb test module used by float_harness: streams input vectors into a design,
one per clock cycle, and records every output after each clock edge.

Reads the JSON file named by $FP_STREAM_IN: {"inputs": {port: [int]}, "en": [0/1],
"outputs": [port]}; writes {port: [int]} to $FP_STREAM_OUT.
"""
import json
import os

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge


@cocotb.test()
async def stream(dut):
    with open(os.environ["FP_STREAM_IN"]) as f:
        spec = json.load(f)
    inputs = {name: (getattr(dut, name), values) for name, values in spec["inputs"].items()}
    outputs = [(name, getattr(dut, name)) for name in spec["outputs"]]
    en = dut.en
    en_values = spec["en"]
    dut.rst.value = 0
    for handle, values in inputs.values():
        handle.value = 0
    en.value = 0
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    record = {name: [] for name, _ in outputs}
    lists = [(record[name], handle) for name, handle in outputs]
    items = list(inputs.values())
    falling = FallingEdge(dut.clk)
    for i in range(len(en_values)):
        await falling
        for rec, handle in lists:
            rec.append(int(handle.value))
        for handle, values in items:
            handle.value = values[i]
        en.value = en_values[i]
    with open(os.environ["FP_STREAM_OUT"], "w") as f:
        json.dump(record, f)
