"""The import graph keeps its layers (pyproject.toml [tool.importlinter]: theory cli > validate > chaos |
phase | plotting > meanfield | kacrice > rmt > sitelaw > models > errors, the simulation stack beside it,
utilities importing no analysis). import-linter counts function-local imports, so a hidden cycle fails."""

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_import_layers_hold():  # import-linter is a test dependency: a missing one fails here
    run = subprocess.run(["lint-imports"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "4 kept, 0 broken" in run.stdout


def test_every_solver_result_speaks_one_status_vocabulary():
    # the four result types carry a Status (equal to its string) and a strict-JSON summary()
    import json
    import math

    import numpy as np

    from dynagate.fixedpoints import FixedPoints
    from dynagate.kacrice import Complexity
    from dynagate.lyapunov import LyapunovResult
    from dynagate.meanfield import DMFTResult
    from dynagate.results import Status

    ly = LyapunovResult(np.array([0.1]), np.array([math.nan]), np.zeros((5, 1)), "per step", 10.0, None, 3,
                        "too_short", "x", 1.0)  # fmt: skip
    dm = DMFTResult(np.arange(3.0), np.ones(3), 1.0, math.inf, 1.0, 0.5, "no_chaos", 0.0, "closed")
    cx = Complexity(0.0, 0.0, 0.0, 0.0, 0.0, 0.5, np.zeros(2), None, np.ones(2) / 2, False, "stopped")
    fp = FixedPoints(np.zeros((1, 2)), np.zeros(1), np.zeros((1, 2)), np.zeros(1, int), 4, 3, True)
    for res, status in ((ly, Status.TOO_SHORT), (dm, Status.NO_CHAOS), (cx, Status.NOT_CONVERGED),
                        (fp, Status.CONVERGED)):  # fmt: skip
        assert res.status is status and res.status == status.value and status.meaning
        text = json.dumps(res.summary(), allow_nan=False)  # strict JSON: NaN / inf became null
        assert json.loads(text)["status"] == status.value
    with pytest.raises(ValueError, match="CONVERGED"):
        Status("ok")
