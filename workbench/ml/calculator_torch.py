"""Calculators for torch models on descriptor fingerprints (KLIFF's ``CalculatorTorch``).

``create`` computes (or reuses) the fingerprints of the configurations once and keeps
them as tensors:

* ``zeta`` (atoms, D) for all atoms of all configurations, configuration after
  configuration;
* the coordinate derivatives grouped by atom count: for the configurations with n atoms
  one tensor (C_n, n·D, 3n), so the forces of a batch are one batched matrix product
  ``F = -(dE/dzeta) · (dzeta/dr)`` per atom count;
* the strain derivatives (atoms, D, 6); stress = (dE/dzeta · dzeta/dstrain) / volume.

A batch is a list of configuration indices; :meth:`CalculatorTorch.forward` returns the
energies, forces and stresses of a batch as differentiable tensors (the loss trains on
them); ``compute`` / ``get_energy`` / ``get_forces`` / ``get_prediction`` evaluate without
building a graph for the parameters.
"""

from __future__ import annotations

import logging

import numpy as np
import torch

import workbench.ml.descriptors  # noqa: F401  (imports fingerprints in the right order)
from workbench.errors import LossError, ModelError
from workbench.ml._force_kernels import (
    blocks_from_dense,
    force_loss_and_grad,
    forces_from_blocks,
    grad_from_blocks,
)
from workbench.ml.fingerprints import load_fingerprints

logger = logging.getLogger(__name__)


class _BlockForces(torch.autograd.Function):
    """forces = -(dE/dzeta) . (dzeta/dr) over the atom-pair blocks, and its adjoint."""

    @staticmethod
    def forward(ctx, g, calc, configs, r0):
        gn = np.ascontiguousarray(g.detach().cpu().numpy())
        out = np.zeros((gn.shape[0], 3), dtype=gn.dtype)
        forces_from_blocks(gn, calc._blk_val, calc._blk_i, calc._blk_k, calc._blk_off,
                           configs, r0, out)
        ctx.args = (calc, configs, r0, gn.shape)
        return torch.from_numpy(out).to(g.device)

    @staticmethod
    def backward(ctx, grad_forces):
        calc, configs, r0, shape = ctx.args
        gf = np.ascontiguousarray(grad_forces.detach().cpu().numpy())
        out = np.zeros(shape, dtype=gf.dtype)
        grad_from_blocks(gf, calc._blk_val, calc._blk_i, calc._blk_k, calc._blk_off,
                         configs, r0, out)
        return torch.from_numpy(out).to(grad_forces.device), None, None, None


class _FusedForceLoss(torch.autograd.Function):
    """½ sum over the batch of (scale · (F − F_ref))², F = −(dE/dzeta)·(dzeta/dr), with its
    gradient w.r.t. dE/dzeta computed in the same sweep (see ``force_loss_and_grad``)."""

    @staticmethod
    def forward(ctx, g, calc, configs, r0, fscale, fref):
        gn = np.ascontiguousarray(g.detach().cpu().numpy())
        forces = np.zeros((gn.shape[0], 3), dtype=gn.dtype)
        gforces = np.zeros_like(forces)
        dg = np.zeros_like(gn)
        loss = np.zeros(len(configs))
        force_loss_and_grad(gn, calc._blk_val, calc._blk_i, calc._blk_k, calc._blk_off,
                            configs, r0, calc.atom_offsets, calc.natoms, fscale, fref,
                            forces, gforces, dg, loss)
        ctx.dg = torch.from_numpy(dg).to(g.device)
        ctx.forces = forces
        return torch.tensor(loss.sum(), dtype=g.dtype, device=g.device)

    @staticmethod
    def backward(ctx, grad_loss):
        return grad_loss * ctx.dg, None, None, None, None, None


class CalculatorTorch:
    """Evaluate a torch model (``NeuralNetwork``, ``LinearRegression``) on a data set.

    Args:
        model: the model; its ``descriptor`` produces the fingerprints.
        gpu: False/None (CPU), True (cuda:0) or a cuda device index.
    """

    is_torch = True
    implemented_property = ["energy", "forces", "stress"]

    def __init__(self, model, gpu=False):
        self.model = model
        self.models = {None: model}
        self.descriptor = model.descriptor
        self.dtype = model.dtype
        self.device = self._device(gpu)
        self.configs: list = []
        self.use_energy, self.use_forces, self.use_stress = True, True, False
        self.results = None
        self._created = False

    @staticmethod
    def _device(gpu):
        if gpu is None or gpu is False:
            return torch.device("cpu")
        if not torch.cuda.is_available():
            raise ModelError("gpu requested but torch has no CUDA device here")
        return torch.device("cuda:0" if gpu is True else f"cuda:{int(gpu)}")

    # -- set-up -----------------------------------------------------------------------
    def create(self, configs, use_energy=True, use_forces=True, use_stress=False,
               fingerprints_filename="fingerprints.pkl",
               fingerprints_mean_stdev_filename=None, reuse=False,
               use_welford_method=False, nprocs=1):
        """Compute the fingerprints of ``configs`` (reused from ``fingerprints_filename``
        when ``reuse`` and the file was made from the same inputs) and load them.
        Reference data are optional here (a loss checks them)."""
        configs = list(configs)
        if not configs:
            raise LossError("CalculatorTorch.create needs at least one configuration")
        self.configs = configs
        self.use_energy, self.use_forces, self.use_stress = use_energy, use_forces, use_stress
        path = self.descriptor.generate_fingerprints(
            configs, fit_forces=use_forces, fit_stress=use_stress,
            fingerprints_filename=fingerprints_filename,
            fingerprints_mean_stdev_filename=fingerprints_mean_stdev_filename,
            use_welford_method=use_welford_method, nprocs=nprocs, reuse=reuse)
        self.fingerprints_path = path
        self._load(load_fingerprints(path))
        self._created = True
        self.results = None
        return self.get_compute_arguments()

    def _load(self, entries):
        dev, dt = self.device, self.dtype
        rel = 1e-18 if dt == torch.float32 else 1e-40

        def dense(arr):
            # Far tails of exp(-eta r^2) are tiny; in products they become subnormal
            # numbers, which make CPU arithmetic tens of times slower.  Entries below
            # rel * max|x| are far under the dtype's resolution of any sum: set to zero.
            t = torch.as_tensor(arr, dtype=dt)
            if t.numel():
                t[t.abs() < rel * float(t.abs().max())] = 0.0
            return t.to(dev)

        nat = np.array([e["zeta"].shape[0] for e in entries], dtype=np.int64)
        self.natoms = nat
        self.atom_offsets = np.concatenate([[0], np.cumsum(nat)])
        self.zeta = dense(np.concatenate([e["zeta"] for e in entries]))
        self.D = self.zeta.shape[1]
        codes = self.descriptor.species_code
        self.species = torch.as_tensor(
            np.concatenate([[codes[s] for s in c.species] for c in self.configs]),
            dtype=torch.long, device=dev)
        self._nat_t = torch.as_tensor(nat, device=dev)
        self._off_t = torch.as_tensor(self.atom_offsets[:-1], device=dev)

        def ref(name, shape):
            vals = [np.full(shape(k), np.nan) if getattr(c, name, None) is None
                    else np.asarray(getattr(c, name), float).reshape(shape(k))
                    for k, c in enumerate(self.configs)]
            return torch.as_tensor(np.concatenate(vals), dtype=dt, device=dev)

        self.ref_energy = ref("energy", lambda k: (1,))
        self.ref_forces = ref("forces", lambda k: (nat[k], 3))
        self.ref_stress = ref("stress", lambda k: (1, 6))
        if self.use_forces:
            # atom-pair blocks of dzeta/dr (see _force_kernels); float in the model dtype
            np_dt = np.float64 if dt == torch.float64 else np.float32
            bi, bk, bv, off = [], [], [], [0]
            scale = max((float(np.abs(e["dzetadr_forces"]).max()) for e in entries
                         if e["dzetadr_forces"].size), default=0.0)
            for e in entries:
                i, k, v = blocks_from_dense(np.asarray(e["dzetadr_forces"], np_dt),
                                            rel * scale)
                v[np.abs(v) < rel * scale] = 0.0
                bi.append(i)
                bk.append(k)
                bv.append(v)
                off.append(off[-1] + len(i))
            self._blk_i = np.concatenate(bi)
            self._blk_k = np.concatenate(bk)
            self._blk_val = np.ascontiguousarray(np.concatenate(bv), dtype=np_dt)
            self._blk_off = np.asarray(off, dtype=np.int64)
        if self.use_stress:
            self.dzds = dense(np.concatenate([e["dzetadr_stress"] for e in entries]))
            self.volume = torch.as_tensor([float(e["volume"]) for e in entries],
                                          dtype=dt, device=dev)

    def check_references(self):
        """Raise LossError naming the first configuration without a used reference."""
        from workbench.fit.calculator import check_references

        check_references(self.configs, self.use_energy, self.use_forces, self.use_stress,
                         who="the CalculatorTorch")

    def dzetadr_dense(self, k):
        """Dense (n, D, 3n) dzeta/dr of configuration ``k`` (normalized), float64."""
        n = int(self.natoms[k])
        out = np.zeros((n, n, self.D, 3))
        a, b = self._blk_off[k], self._blk_off[k + 1]
        out[self._blk_i[a:b], self._blk_k[a:b]] = self._blk_val[a:b]
        return out.transpose(0, 2, 1, 3).reshape(n, self.D, 3 * n)

    def _require_created(self):
        if not self._created:
            raise LossError("call CalculatorTorch.create(configs) first")

    # -- parameters --------------------------------------------------------------------
    def parameters(self):
        """The trainable torch parameters of the model(s), for a torch optimizer."""
        seen, out = set(), []
        for m in self.models.values():
            for p in m.parameters():
                if id(p) not in seen:
                    seen.add(id(p))
                    out.append(p)
        return out

    def get_num_opt_params(self):
        """The number of trainable scalars in the network(s)."""
        return sum(p.numel() for p in self.parameters())

    def train(self, mode=True):
        """Train the network(s) for the given epochs; see Loss.minimize for the options."""
        for m in self.models.values():
            m.train(mode)

    def get_compute_arguments(self, batch_size=1):
        """Batches of configuration indices (the unit ``forward``/``compute`` take)."""
        self._require_created()
        n = len(self.configs)
        return [list(range(i, min(i + batch_size, n))) for i in range(0, n, batch_size)]

    # -- evaluation --------------------------------------------------------------------
    def _atom_energies(self, zeta_b, species_b, seg):
        model = self.models[None]
        model.set_segments(seg)
        return model(zeta_b).reshape(-1)

    def force_loss(self, r, batch, fscale, fref):
        """The force term of the loss of ``batch`` from ``forward(..., forces=False,
        grad=True)``'s ``dE_dzeta`` (fused forces + residual + adjoint sweep)."""
        return _FusedForceLoss.apply(r["dE_dzeta"], self, np.asarray(batch, dtype=np.int64),
                                     r["batch_offsets"][:-1].cpu().numpy(), fscale, fref)

    def forward(self, batch, forces=None, stress=None, create_graph=True, grad=False):
        """Energies (B,), forces (atoms of the batch, 3) and stresses (B, 6) of the
        configurations ``batch`` (indices), differentiable w.r.t. the parameters."""
        self._require_created()
        forces = self.use_forces if forces is None else forces
        stress = self.use_stress if stress is None else stress
        idx = torch.as_tensor(np.asarray(batch, dtype=np.int64), device=self.device)
        counts = self._nat_t[idx]
        B = len(batch)
        seg = torch.repeat_interleave(torch.arange(B, device=self.device), counts)
        bstart = torch.cumsum(counts, 0) - counts
        atom_idx = (self._off_t[idx] - bstart)[seg] + torch.arange(len(seg), device=self.device)
        zeta_b = self.zeta[atom_idx]
        need_grad = forces or stress or grad
        if need_grad:
            zeta_b = zeta_b.detach().requires_grad_(True)
        e_atom = self._atom_energies(zeta_b, self.species[atom_idx], seg)
        energy = torch.zeros(B, dtype=e_atom.dtype, device=self.device).index_add(0, seg, e_atom)
        out = {"energy": energy, "forces": None, "stress": None, "atom_index": atom_idx,
               "batch_offsets": torch.cat([bstart, bstart[-1:] + counts[-1:]])}
        if not need_grad:
            return out
        (g,) = torch.autograd.grad(e_atom.sum(), zeta_b, create_graph=create_graph)
        out["dE_dzeta"] = g
        if forces:
            out["forces"] = _BlockForces.apply(
                g, self, np.asarray(batch, dtype=np.int64), bstart.cpu().numpy())
        if stress:
            per_atom = torch.einsum("aq,aqs->as", g, self.dzds[atom_idx])
            s = torch.zeros(B, 6, dtype=g.dtype, device=self.device).index_add(0, seg, per_atom)
            out["stress"] = s / self.volume[idx][:, None]
        return out

    def compute(self, batch=None, chunk=256):
        """Evaluate ``batch`` (indices; default: every configuration) in eval mode;
        returns ``{"energy": [...], "forces": [...], "stress": [...]}`` per configuration
        (KLIFF's layout) and keeps all values for ``get_energy`` etc."""
        self._require_created()
        idx = list(range(len(self.configs))) if batch is None else list(batch)
        modes = {k: m.training for k, m in self.models.items()}
        self.train(False)
        energy = np.full(len(self.configs), np.nan)
        forces = np.full((int(self.atom_offsets[-1]), 3), np.nan)
        stress = np.full((len(self.configs), 6), np.nan)
        try:
            for lo in range(0, len(idx), chunk):
                part = idx[lo:lo + chunk]
                with torch.enable_grad():
                    r = self.forward(part, create_graph=False)
                energy[part] = r["energy"].detach().cpu().numpy()
                if r["forces"] is not None:
                    forces[r["atom_index"].cpu().numpy()] = r["forces"].detach().cpu().numpy()
                if r["stress"] is not None:
                    stress[part] = r["stress"].detach().cpu().numpy()
        finally:
            for k, m in self.models.items():
                m.train(modes[k])
        self.results = {"energy": energy, "forces": forces, "stress": stress}
        return {"energy": [energy[k] for k in idx],
                "forces": [self._slice(forces, k) for k in idx] if self.use_forces else None,
                "stress": [stress[k] for k in idx] if self.use_stress else None}

    def _slice(self, arr, k):
        return arr[self.atom_offsets[k]:self.atom_offsets[k + 1]].copy()

    def _result(self):
        if self.results is None:
            self.compute()
        return self.results

    def _many(self, ca, one):
        if isinstance(ca, (list, tuple, np.ndarray)):
            return [one(int(k)) for k in ca]
        return one(int(getattr(ca, "index", ca)))

    def get_energy(self, ca):
        """Energy of configuration ``ca`` (an index), or a list for a batch of indices."""
        return self._many(ca, lambda k: float(self._result()["energy"][k]))

    def get_forces(self, ca):
        """Predicted forces (eV/Angstrom) of one configuration after compute()."""
        return self._many(ca, lambda k: self._slice(self._result()["forces"], k))

    def get_stress(self, ca):
        """Predicted stress (eV/Angstrom^3, Voigt order) of one configuration after
        compute(), or None when not computed."""
        return self._many(ca, lambda k: self._result()["stress"][k].copy())

    def _layout(self, k, e, f, s):
        parts = []
        if self.use_energy:
            parts.append(np.atleast_1d(e))
        if self.use_forces:
            parts.append(np.ravel(f))
        if self.use_stress:
            parts.append(np.ravel(s))
        return np.concatenate(parts) if parts else np.zeros(0)

    def get_prediction(self, ca):
        """Energy, flattened forces, Voigt stress (the used ones), as the physics
        ``Calculator``."""
        def one(k):
            r = self._result()
            return self._layout(k, r["energy"][k], self._slice(r["forces"], k), r["stress"][k])
        return self._many(ca, one)

    def get_reference(self, ca):
        """Reference values of one configuration (or several), laid out like get_prediction."""
        def one(k):
            a, b = self.atom_offsets[k], self.atom_offsets[k + 1]
            return self._layout(k, self.ref_energy[k].item(),
                                self.ref_forces[a:b].cpu().numpy(),
                                self.ref_stress[k].cpu().numpy())
        return self._many(ca, one)

    # -- linear regression ---------------------------------------------------------------
    def fit(self, use_forces=False):
        """Fit a ``LinearRegression`` model analytically (least squares) to the energies
        (and forces with ``use_forces``) of the created configurations."""
        self._require_created()
        fit = getattr(self.model, "fit_calculator", None)
        if fit is None:
            raise ModelError(f"{type(self.model).__name__} has no analytic fit; train it "
                             "with Loss(calc).minimize(...)")
        fit(self, use_forces=use_forces)
        self.results = None


class CalculatorTorchSeparateSpecies(CalculatorTorch):
    """One model per species: ``CalculatorTorchSeparateSpecies({"Si": m1, "C": m2})``.

    All models must share one descriptor (the fingerprints are computed once); the energy
    of an atom is given by the model of its species.
    """

    def __init__(self, models: dict, gpu=False):
        if not models:
            raise ModelError("CalculatorTorchSeparateSpecies needs {species: model}")
        first = next(iter(models.values()))
        for s, m in models.items():
            if m.descriptor is not first.descriptor:
                raise ModelError(f"the model of {s!r} uses another descriptor object; all "
                                 "species models must share one descriptor")
        super().__init__(first, gpu)
        missing = [s for s in self.descriptor.species if s not in models]
        if missing:
            raise ModelError(f"no model for species {', '.join(missing)} (the descriptor "
                             f"covers {', '.join(self.descriptor.species)})")
        self.models = dict(models)
        self._code_models = [(self.descriptor.species_code[s], m) for s, m in models.items()]

    def _atom_energies(self, zeta_b, species_b, seg):
        e = torch.zeros(zeta_b.shape[0], dtype=zeta_b.dtype, device=zeta_b.device)
        for code, model in self._code_models:
            where = torch.nonzero(species_b == code).reshape(-1)
            if where.numel() == 0:
                continue
            model.set_segments(seg[where])
            e = e.index_add(0, where, model(zeta_b[where]).reshape(-1))
        return e
