"""dynagate validate: the report's table and exit code (the checks themselves are tested where they live)."""

import json

from dynagate.cli import main


def test_validate_writes_a_report(tmp_path, capsys):
    out = tmp_path / "v"
    assert main(["validate", "--quick", "--only", "jacobians,scs_dmft", "--out", str(out), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["checks"]
    assert [r["name"] for r in rows] == ["jacobians", "scs_dmft"] and all(r["passed"] for r in rows)
    text = (out / "report.md").read_text()
    assert "2 of 2 checks passed" in text and "| scs_dmft |" in text
    assert "| Delta0 1.9248, lambda_max 0.1125 |" in text  # the measured column


def test_validate_unknown_check(tmp_path, capsys):
    assert main(["validate", "--only", "nope", "--out", str(tmp_path / "v")]) == 2
    assert "unknown check 'nope'" in capsys.readouterr().err
    # an --only that names nothing is an error, not an empty report that passes
    assert main(["validate", "--only", ",", "--out", str(tmp_path / "w")]) == 2
    assert "names no check" in capsys.readouterr().err
    assert not (tmp_path / "w").exists()
