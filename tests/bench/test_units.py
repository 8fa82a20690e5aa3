"""``python -m allo_rtl bench --units`` (allo_rtl.bench.units) on one small unit.

A real Yosys + nextpnr run of FPCompare binary32 (a few seconds) in a private cache;
the registry itself is only checked for being well formed, never synthesized as a
whole here.
"""

from __future__ import annotations

import contextlib
import io
import json

import pytest

from allo_rtl.bench import units
from allo_rtl.cli import main


@pytest.fixture(scope="module")
def compare_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bench_units")
    mp = pytest.MonkeyPatch()
    mp.setenv("ALLO_RTL_CACHE_DIR", str(tmp / "cache"))   # a real synthesis run
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = main(["bench", "--units-filter", "FPCompare binary32", "--json",
                       str(tmp / "units.json")])
    finally:
        mp.undo()
    return rc, out.getvalue(), err.getvalue(), json.loads((tmp / "units.json").read_text())


def test_units_table(compare_run):
    rc, text, err, doc = compare_run
    assert rc == 0, text + err
    lines = text.splitlines()
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert header == units.UNIT_COLUMNS
    for col in ("unit", "format", "latency", "LUT", "FF", "DSP", "Fmax MHz"):
        assert col in header
    rows = [line for line in lines[2:] if line.startswith("| FPCompare ")]
    assert len(rows) == 1
    cells = dict(zip(header, (c.strip() for c in rows[0].strip("|").split("|"))))
    assert cells["format"] == "binary32" and cells["latency"] == "1*"
    assert int(cells["LUT"].replace(",", "")) > 10
    assert int(cells["DSP"]) == 0
    assert 20 < float(cells["Fmax MHz"]) < 1000
    assert "[1/1] FPCompare binary32 default" in err          # progress per unit
    (r,) = doc["units"]
    assert r["unit"] == "FPCompare" and r["error"] is None and r["cached"] is False
    assert r["fmax_mhz"] == pytest.approx(float(cells["Fmax MHz"]), abs=0.06)
    assert doc["columns"] == units.UNIT_COLUMNS


def test_registry_well_formed():
    entries = units.registry()
    labels = [e.label for e in entries]
    assert len(labels) == len(set(labels))
    names = {e.name for e in entries}
    assert {"FPAdd", "FPMul", "FPDiv", "FPSqrt", "FPCompare", "FPMinMax", "IntToFP", "FPToInt",
            "FPToFP", "FixedToFP", "FPToFixed", "IntMul", "IntDiv"} <= names
    f32 = [e for e in entries if e.fmt == "binary32" and e.name in ("FPAdd", "FPMul")]
    assert [e.target_mhz for e in f32 if e.latency is None] == [units.F32_TARGET_MHZ] * 2
    assert all(e.target_mhz is None for e in f32 if e.latency is not None)
    assert [e.label for e in units.select(entries, "fpadd BINARY16")] == ["FPAdd binary16 default"]
    assert len(units.select(entries, "FPDiv binary64,FPSqrt binary64")) == 2


def test_unit_verilog_latency_zero_gets_a_clock():
    from primitives.float import BINARY16, FPCompare

    e = units.UnitEntry("FPCompare", "binary16", lambda l: FPCompare(BINARY16, latency=l), 0)
    text, top, latency = units.unit_verilog(e)
    assert latency == 0 and top == "FPCompare_binary16_l0"
    assert units._has_clock(text)


def test_no_match_is_an_error(capsys):
    assert main(["bench", "--units-filter", "no-such-unit"]) == 2
    assert "no unit matches" in capsys.readouterr().err
