"""The example notebooks run top to bottom without error (in a fresh kernel, from their own folder)."""

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))

#: Per-cell limit (s): generous, so a slow CI machine fails on errors, not on time.
CELL_TIMEOUT = 600

#: Terminal colour codes in IPython tracebacks (removed so that failures read cleanly in CI logs).
ANSI = re.compile(r"\x1b\[[0-9;]*m")


#: The heaviest notebooks run with the slow checks (-m slow): 04 and 05 (1.5-3 min each on 2 cores), and
#: 02, 03, 06 and 07 (0.6-2 min each); the quickstart stays in the default suite. What they show is tested
#: piecewise by test_lyapunov, test_rmt and test_phase.
SLOW = {
    "02_lyapunov.ipynb",
    "03_spectra.ipynb",
    "04_dmft.ipynb",
    "05_fixed_points.ipynb",
    "06_phase_diagrams.ipynb",
    "07_gru_lstm.ipynb",
}


@pytest.mark.parametrize(
    "path",
    [pytest.param(p, marks=[pytest.mark.slow] if p.name in SLOW else []) for p in NOTEBOOKS],
    ids=[p.name for p in NOTEBOOKS],
)
def test_notebook_runs(path: Path, monkeypatch):
    # The kernel inherits this environment: figures go to the non-interactive Agg backend (no windows).
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=CELL_TIMEOUT,
        resources={"metadata": {"path": str(path.parent)}},
    )
    error = None
    try:
        client.execute()
    except CellExecutionError as e:
        error = ANSI.sub("", str(e))
    if error is not None:
        pytest.fail(f"{path.name}: a cell raised\n{error}", pytrace=False)
