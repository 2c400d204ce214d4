"""Robust residual functions with KLIFF's signature.

``huber_energy_forces_residual`` starts from the usual weighted energy-and-forces residual
``r = config_weight * property_weight * (prediction - reference) / N`` and maps every
component through

    u = r                                     if |r| <= delta
    u = sign(r) * sqrt(2 delta |r| - delta^2)  otherwise

so that ``1/2 u^2`` is the Huber loss of ``r``: quadratic near zero, linear in the tails,
which keeps a few badly converged reference configurations from dominating a fit.  ``u``
is continuously differentiable (``du/dr = 1`` at ``|r| = delta``), so the Jacobian the
Loss builds by pushing the exact prediction Jacobian through this function is well
defined.  ``delta`` is ``data["huber_delta"]`` (default 0.1, in units of the weighted
residual).

Registered as ``huber_energy_forces`` under the ``workbench.residuals`` entry-point group.
"""

from __future__ import annotations

import numpy as np

from workbench.errors import LossError

DEFAULT_DELTA = 0.1


def huber(r, delta):
    """The elementwise Huber map described in the module docstring."""
    r = np.asarray(r, dtype=float)
    a = np.abs(r)
    out = r.copy()
    big = a > delta
    out[big] = np.sign(r[big]) * np.sqrt(2.0 * delta * a[big] - delta * delta)
    return out


def huber_energy_forces_residual(identifier, natoms, weight, prediction, reference, data):
    """Huber-robust energy and forces residual ``[E, f_0x, ..., f_(N-1)z]``."""
    delta = float(data.get("huber_delta", DEFAULT_DELTA))
    if not delta > 0:
        raise LossError(f"huber_delta must be > 0, got {delta!r}")
    prediction = np.asarray(prediction, dtype=float)
    if prediction.shape != (1 + 3 * natoms,):
        raise LossError(f"configuration {identifier}: the Huber energy-forces residual needs "
                        f"energy and forces ({1 + 3 * natoms} values), got "
                        f"{prediction.shape[0]}; create the Calculator with use_energy=True, "
                        f"use_forces=True, use_stress=False")
    s = weight.config_weight
    if data.get("normalize_by_natoms", True):
        s = s / natoms
    r = prediction - np.asarray(reference, dtype=float)
    r[0] *= s * weight.energy_weight
    r[1:] *= s * np.ravel(np.broadcast_to(weight.forces_weight, (natoms, 3)))
    return huber(r, delta)
