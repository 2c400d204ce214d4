"""Residual functions (KLIFF's signature) and their vectorized equivalent.

For configuration m with N atoms, the residual block is

    u_m = config_weight * property_weight * (prediction - reference) / N

(``/ N`` only when ``normalize_by_natoms``), laid out as energy, then the 3N force
components atom by atom, then the six Voigt stress components.  The loss is ½‖u‖².

The four built-in functions below can be called per configuration (the KLIFF way); when a
``Loss`` is given one of them it uses :class:`ResidualAssembler` instead, which builds the
residual and its Jacobian for the whole data set with a handful of array operations.
"""

from __future__ import annotations

import numpy as np


def _scale(natoms, weight, data):
    s = weight.config_weight
    if data.get("normalize_by_natoms", True):
        s = s / natoms
    return s


def energy_forces_residual(identifier, natoms, weight, prediction, reference, data):
    """Energy and forces: ``[E, f_0x, f_0y, ..., f_(N-1)z]``."""
    s = _scale(natoms, weight, data)
    r = np.asarray(prediction, float) - np.asarray(reference, float)
    r[0] *= s * weight.energy_weight
    r[1:] *= s * np.ravel(np.broadcast_to(weight.forces_weight, (natoms, 3)))
    return r


def energy_residual(identifier, natoms, weight, prediction, reference, data):
    """Energy only: ``[E]``."""
    s = _scale(natoms, weight, data)
    return s * weight.energy_weight * (np.asarray(prediction, float) - reference)


def forces_residual(identifier, natoms, weight, prediction, reference, data):
    """Forces only: the 3N components."""
    s = _scale(natoms, weight, data)
    fw = np.ravel(np.broadcast_to(weight.forces_weight, (natoms, 3)))
    return s * fw * (np.asarray(prediction, float) - reference)


def energy_forces_stress_residual(identifier, natoms, weight, prediction, reference, data):
    """Energy, forces and Voigt stress: ``[E, forces..., s_xx, s_yy, s_zz, s_yz, s_xz, s_xy]``."""
    s = _scale(natoms, weight, data)
    r = np.asarray(prediction, float) - np.asarray(reference, float)
    r[0] *= s * weight.energy_weight
    r[1:1 + 3 * natoms] *= s * np.ravel(np.broadcast_to(weight.forces_weight, (natoms, 3)))
    r[1 + 3 * natoms:] *= s * np.broadcast_to(weight.stress_weight, (6,))
    return r


#: built-in residual function -> (uses energy, uses forces, uses stress)
BUILTIN_RESIDUALS = {
    energy_forces_residual: (True, True, False),
    energy_residual: (True, False, False),
    forces_residual: (False, True, False),
    energy_forces_stress_residual: (True, True, True),
}

RESIDUALS_BY_NAME = {f.__name__: f for f in BUILTIN_RESIDUALS}


def default_residual(use_energy, use_forces, use_stress):
    """The built-in residual matching a Calculator's flags."""
    for fn, flags in BUILTIN_RESIDUALS.items():
        if flags == (use_energy, use_forces, use_stress):
            return fn
    return energy_forces_stress_residual


class ResidualAssembler:
    """Vectorized residual and Jacobian for a created Calculator and a built-in residual.

    The property blocks the residual function uses must be computed by the calculator; the
    per-row scale factors (weights, 1/N) and the row positions of every block are built
    once here.
    """

    def __init__(self, calc, residual_fn, normalize_by_natoms=True):
        use_e, use_f, use_s = BUILTIN_RESIDUALS[residual_fn]
        missing = [p for p, want, have in (("energy", use_e, calc.use_energy),
                                           ("forces", use_f, calc.use_forces),
                                           ("stress", use_s, calc.use_stress))
                   if want and not have]
        if missing:
            raise ValueError(f"{residual_fn.__name__} needs {', '.join(missing)}: create "
                             f"the Calculator with use_{missing[0]}=True")
        self.calc = calc
        self.use = (use_e, use_f, use_s)
        nat = calc.natoms
        C = len(nat)
        # rows of each configuration's block in the calculator's prediction layout
        block = (1 if calc.use_energy else 0) + 3 * nat * calc.use_forces + 6 * calc.use_stress
        start = np.concatenate([[0], np.cumsum(block)])[:-1]
        cw = np.array([c.config_weight for c in calc.configs], float)
        scale = cw / nat if normalize_by_natoms else cw
        off = start.copy()
        if calc.use_energy:
            if use_e:
                ew = np.array([c.energy_weight for c in calc.configs], float)
                self.e_rows, self.e_scale = off.copy(), scale * ew
            off += 1
        if calc.use_forces:
            atom_cfg = np.repeat(np.arange(C), nat)
            local = np.arange(nat.sum()) - np.repeat(calc.atom_offsets[:-1], nat)
            if use_f:
                fw = np.concatenate([np.broadcast_to(np.asarray(c.forces_weight, float),
                                                     (c.get_num_atoms(), 3))
                                     for c in calc.configs])
                self.f_rows = (off[atom_cfg] + 3 * local)[:, None] + np.arange(3)
                self.f_scale = scale[atom_cfg][:, None] * fw
            off += 3 * nat
        if use_s:
            sw = np.array([np.broadcast_to(np.asarray(c.stress_weight, float), (6,))
                           for c in calc.configs])
            self.s_rows = off[:, None] + np.arange(6)
            self.s_scale = scale[:, None] * sw
        self.size = int(block.sum())

    def residual(self, result):
        c = self.calc
        u = np.zeros(self.size)
        if self.use[0]:
            u[self.e_rows] = self.e_scale * (result.energy - c.ref_energy)
        if self.use[1]:
            u[self.f_rows] = self.f_scale * (result.forces - c.ref_forces)
        if self.use[2]:
            u[self.s_rows] = self.s_scale * (result.stress - c.ref_stress)
        return u

    def gradient(self, result, chain, u):
        """``Jᵀu`` without forming J: the blocks are contracted one by one."""
        K = len(chain)
        g = np.zeros(K)
        if self.use[0]:
            g += (self.e_scale * u[self.e_rows]) @ result.d_energy
        if self.use[1]:
            w = (self.f_scale * u[self.f_rows]).reshape(-1)
            g += w @ result.d_forces.reshape(-1, K)
        if self.use[2]:
            w = (self.s_scale * u[self.s_rows]).reshape(-1)
            g += w @ result.d_stress.reshape(-1, K)
        return g * chain

    def gradient_weights(self):
        """Weights and references for a model's one-pass gradient
        (``compute_gradient``): with ``u = s (p - q)`` per row, ``Jᵀu`` is the gradient
        of ``½ Σ s² (p - q)²``.  None when the calculator computes stress (that pass
        returns energies and forces only)."""
        if self.calc.use_stress:
            return None
        if getattr(self, "_gw", None) is None:
            c = self.calc
            C, N = len(c.natoms), int(c.natoms.sum())
            w = {"energy_weight": self.e_scale ** 2 if self.use[0] else np.zeros(C),
                 "energy_ref": (np.asarray(c.ref_energy, float) if self.use[0]
                                else np.zeros(C))}
            if c.use_forces:
                w["forces_weight"] = self.f_scale ** 2 if self.use[1] else np.zeros((N, 3))
                w["forces_ref"] = (np.asarray(c.ref_forces, float) if self.use[1]
                                   else np.zeros((N, 3)))
            self._gw = w
        return self._gw

    def jacobian(self, result, chain):
        """Rows of the residual Jacobian; ``chain`` scales the model's columns (K,)."""
        K = len(chain)
        J = np.zeros((self.size, K))
        if self.use[0]:
            J[self.e_rows] = self.e_scale[:, None] * result.d_energy * chain
        if self.use[1]:
            J[self.f_rows.ravel()] = (self.f_scale[..., None] * result.d_forces
                                      ).reshape(-1, K) * chain
        if self.use[2]:
            J[self.s_rows.ravel()] = (self.s_scale[..., None] * result.d_stress
                                      ).reshape(-1, K) * chain
        return J
