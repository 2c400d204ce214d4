"""What a training run records beyond its loss curve: the train RMSEs of the network."""

from __future__ import annotations

import numpy as np


def training_rmse(calc) -> tuple[float | None, float | None] | None:
    """(energy RMSE per atom, force component RMSE) of a created ``CalculatorTorch`` on
    its own configurations with the weights it holds now (the same measures as a fit's
    ``train_e_rmse``/``train_f_rmse``); None when it cannot be evaluated."""
    try:
        calc.compute()
    except Exception:  # noqa: BLE001 - no RMSE rather than no record
        return None
    res = calc.results
    natoms = np.asarray(calc.natoms, float)
    e = (res["energy"] - calc.ref_energy.detach().cpu().numpy().ravel()) / natoms
    e_rmse = float(np.sqrt(np.nanmean(e ** 2))) if np.isfinite(e).any() else None
    f_rmse = None
    if calc.use_forces:
        d = res["forces"] - calc.ref_forces.detach().cpu().numpy()
        if np.isfinite(d).any():
            f_rmse = float(np.sqrt(np.nanmean(d ** 2)))
    return e_rmse, f_rmse
