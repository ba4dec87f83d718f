"""`gankit eval --compare` on crafted eval.json files: each malformed field is a one-line error naming the file and
the field (exit code 1, no traceback), and the table's numbers keep a fixed width whatever their size."""

from __future__ import annotations

import json

import pytest

from gankit.cli import main

STAMP = {"metric": "fid", "version": 1, "n": 7, "seed": 0, "generator": "ema", "gankit": "0"}


def _file(path, **row) -> str:
    """An eval.json of one fid row: ``row`` replaces fields of a well-formed one."""
    path.write_text(
        json.dumps({"rows": [{"metric": "fid", "value": 1.5, "protocol": STAMP, **row}]})
    )
    return str(path)


def _compare(capsys, *paths) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["eval", "--compare", *paths])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('{"rows": [{"metric": "fid", "value": null}]}', "rows[0].value"),
        ('{"rows": [{"metric": "fid", "value": "abc"}]}', "rows[0].value"),
        ('{"rows": [{"metric": "fid", "value": true}]}', "rows[0].value"),
        ('{"rows": [{"metric": "fid", "value": 1' + "0" * 400 + "}]}", "rows[0].value"),
        ('{"rows": [{"metric": "fid", "value": 1, "uncertainty": "x"}]}', "rows[0].uncertainty"),
        ('{"rows": [{"metric": "fid", "value": 1, "protocol": "fid v1"}]}', "rows[0].protocol"),
        (
            '{"rows": [{"metric": "fid", "value": 1, "protocol": {"reference": 5}}]}',
            "rows[0].protocol",
        ),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        (
            '{"rows": [{"metric": "fid", "value": 1, "protocol": '
            + '{"a": ' * 500
            + "1"
            + "}" * 501
            + "]}",
            "rows[0].protocol",
        ),
    ],
)
def test_a_malformed_field_is_one_line_naming_file_and_field(tmp_path, capsys, text, field):
    good = _file(tmp_path / "good.json")
    (tmp_path / "bad.json").write_text(text)
    code, _, err = _compare(capsys, good, str(tmp_path / "bad.json"))
    assert code == 1 and err.count("\n") == 1, err[-2000:]
    assert "bad.json" in err and field in err and "Traceback" not in err


def test_a_file_too_large_is_refused_before_it_is_read(tmp_path, capsys, monkeypatch):
    from gankit.evaluation import compare

    monkeypatch.setattr(compare, "MAX_BYTES", 200)
    good = _file(tmp_path / "good.json")
    big = _file(tmp_path / "big.json", note="x" * 300)
    code, _, err = _compare(capsys, good, big)
    assert code == 1 and err.count("\n") == 1 and "big.json" in err and "200 bytes" in err


def test_numbers_keep_a_fixed_width(tmp_path, capsys):
    a = _file(tmp_path / "a.json", value=1e308, uncertainty=2.5e-9)
    b = _file(tmp_path / "b.json", value=-1.25)
    code, out, err = _compare(capsys, a, b)
    assert code == 0, err
    line = next(line for line in out.splitlines() if line.startswith("fid "))
    assert "1.0000e+308 ± 2.5000e-09" in line and "-1.2500" in line and "-1.0000e+308" in line
    assert len(line) < 100
