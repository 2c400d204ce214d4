"""Residual functions (KLIFF's signature) and their vectorized equivalent.

For configuration m with N atoms the residual block is laid out as the calculator's
prediction: energy, then the 3N force components atom by atom, then the six Voigt stress
components (those the calculator computes), and

    u_m = factor_row * (prediction - reference)

KLIFF's three functions (``energy_forces_residual``, ``energy_residual``,
``forces_residual``) give exactly KLIFF's rows (``config_weight`` times ``energy_weight`` on
row 0 and ``forces_weight`` on the rest, ...; divided by N when ``normalize_by_natoms``).
Ours, ``energy_forces_stress_residual`` (the default whenever stress is computed), weights
stress by ``stress_weight``.  The loss is ½‖u‖².

The functions can be called per configuration (the KLIFF way); when a ``Loss`` is given
one of them it uses :class:`ResidualAssembler` instead, which builds the residual and its
Jacobian for the whole data set with a handful of array operations from the per-row
factors (:func:`block_scales`).
"""

from __future__ import annotations

import numpy as np

from workbench.errors import LossError


def _kliff_forces_weight(weight, size, identifier, fn):
    """``weight.forces_weight`` as KLIFF multiplies it into ``size`` rows: a number, or a
    per-atom array flattened (then ``size`` must be the 3N force rows)."""
    fw = np.asarray(weight.forces_weight, float)
    if fw.ndim == 0:
        return float(fw)
    fw = fw.ravel()
    if fw.size != size:
        raise LossError(
            f"configuration {identifier!r}: {fn} multiplies {size} residual rows by "
            f"forces_weight, which is per-atom ({fw.size} components) here; create the "
            "Calculator with only the properties it weights, or use "
            "energy_forces_stress_residual (per-property weights)")
    return fw


def _normalize(residual, natoms, data):
    if data.get("normalize_by_natoms", True):
        residual = residual / natoms
    return residual


def energy_forces_residual(identifier, natoms, weight, prediction, reference, data):
    """KLIFF's residual: ``config_weight · (p − q)``, row 0 times ``energy_weight``, every
    other row (forces, and stress when the calculator computes it) times
    ``forces_weight``; divided by N when ``normalize_by_natoms``."""
    r = weight.config_weight * (np.asarray(prediction, float) - np.asarray(reference, float))
    r[0] *= weight.energy_weight
    r[1:] *= _kliff_forces_weight(weight, len(r) - 1, identifier, "energy_forces_residual")
    return _normalize(r, natoms, data)


def energy_residual(identifier, natoms, weight, prediction, reference, data):
    """KLIFF's: ``config_weight · energy_weight · (p − q)`` on every row (meant for a
    calculator that computes the energy only)."""
    r = np.asarray(prediction, float) - np.asarray(reference, float)
    return _normalize(weight.config_weight * weight.energy_weight * r, natoms, data)


def forces_residual(identifier, natoms, weight, prediction, reference, data):
    """KLIFF's: ``config_weight · forces_weight · (p − q)`` on every row (meant for a
    calculator that computes the forces only)."""
    r = np.asarray(prediction, float) - np.asarray(reference, float)
    fw = _kliff_forces_weight(weight, len(r), identifier, "forces_residual")
    return _normalize(weight.config_weight * fw * r, natoms, data)


def energy_forces_stress_residual(identifier, natoms, weight, prediction, reference, data):
    """Ours (the default when stress is fitted): each property weighted by its own weight,
    ``[E, forces..., s_xx, s_yy, s_zz, s_yz, s_xz, s_xy]`` (all three computed)."""
    s = weight.config_weight / natoms if data.get("normalize_by_natoms", True) \
        else weight.config_weight
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
    """The built-in residual matching a Calculator's flags (ours, with per-property
    weights, whenever stress is computed)."""
    for fn, flags in BUILTIN_RESIDUALS.items():
        if flags == (use_energy, use_forces, use_stress):
            return fn
    return energy_forces_stress_residual


def block_scales(configs, natoms, flags, residual_fn, normalize_by_natoms=True):
    """Per-row factors of a built-in residual for a calculator's layout ``flags``
    (use_energy, use_forces, use_stress): ``(energy (C,), forces (N, 3), stress (C, 6))``
    with ``u = factor · (p − q)``.

    ``energy_forces_stress_residual`` weights each block by its own weight whatever the
    layout; KLIFF's three functions are diagonal and linear, so their factors are what
    they return for ``p − q = 1`` (exactly KLIFF's rows, e.g. stress rows times
    ``forces_weight`` in ``energy_forces_residual``).
    """
    use_e, use_f, use_s = (bool(x) for x in flags)
    natoms = np.asarray(natoms, dtype=np.int64)
    C = len(configs)
    cw = np.array([c.config_weight for c in configs], float)
    scale = cw / natoms if normalize_by_natoms else cw
    if residual_fn is energy_forces_stress_residual:
        e = scale * np.array([c.energy_weight for c in configs], float)
        f = np.repeat(scale, natoms)[:, None] * np.concatenate(
            [np.broadcast_to(np.asarray(c.forces_weight, float), (c.get_num_atoms(), 3))
             for c in configs]) if C else np.zeros((0, 3))
        s = scale[:, None] * np.array(
            [np.broadcast_to(np.asarray(c.stress_weight, float), (6,)) for c in configs])
        return e, f, s.reshape(C, 6)
    data = {"normalize_by_natoms": normalize_by_natoms}
    e, s = np.zeros(C), np.zeros((C, 6))
    f = []
    for k, c in enumerate(configs):
        n = int(natoms[k])
        size = use_e + 3 * n * use_f + 6 * use_s
        rows = np.asarray(residual_fn(c.identifier, n, c.weight, np.ones(size),
                                      np.zeros(size), data), float).ravel()
        if use_e:
            e[k] = rows[0]
        f.append(rows[use_e:use_e + 3 * n].reshape(n, 3) if use_f else np.zeros((n, 3)))
        if use_s:
            s[k] = rows[size - 6:]
    return e, (np.concatenate(f) if f else np.zeros((0, 3))), s


class ResidualAssembler:
    """Vectorized residual and Jacobian for a created Calculator and a built-in residual.

    The property blocks the residual function uses must be computed by the calculator; the
    per-row scale factors (weights, 1/N) and the row positions of every block are built
    once here.
    """

    def __init__(self, calc, residual_fn, normalize_by_natoms=True):
        flags = (calc.use_energy, calc.use_forces, calc.use_stress)
        if residual_fn is energy_forces_stress_residual and not calc.use_stress:
            raise ValueError("energy_forces_stress_residual needs stress: create the "
                             "Calculator with use_stress=True")
        self.calc = calc
        self.use = tuple(bool(x) for x in flags)
        nat = calc.natoms
        C = len(nat)
        e_scale, f_scale, s_scale = block_scales(calc.configs, nat, flags, residual_fn,
                                                 normalize_by_natoms)
        # rows of each configuration's block in the calculator's prediction layout
        block = (1 if calc.use_energy else 0) + 3 * nat * calc.use_forces + 6 * calc.use_stress
        off = np.concatenate([[0], np.cumsum(block)])[:-1]
        if calc.use_energy:
            self.e_rows, self.e_scale = off.copy(), e_scale
            off = off + 1
        if calc.use_forces:
            atom_cfg = np.repeat(np.arange(C), nat)
            local = np.arange(nat.sum()) - np.repeat(calc.atom_offsets[:-1], nat)
            self.f_rows = (off[atom_cfg] + 3 * local)[:, None] + np.arange(3)
            self.f_scale = f_scale
            off = off + 3 * nat
        if calc.use_stress:
            self.s_rows = off[:, None] + np.arange(6)
            self.s_scale = s_scale
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
