"""Linear model on the fingerprints: E_atom = zeta · w + b, E = sum over atoms.

The configuration energy is linear in (b, w): E_c = N_c b + (sum_i zeta_i) · w, and the
forces too: F_k = -(sum_i dzeta_i/dr_k) · w.  The least-squares fit is therefore a linear
least-squares problem, solved with ``torch.linalg.lstsq`` (QR based; no normal equations,
no explicit inverse).
"""

from __future__ import annotations

import numpy as np
import torch

from workbench.errors import ParameterError
from workbench.ml.neural_network import ModelTorch


class LinearRegression(ModelTorch):
    """KLIFF's ``LinearRegression``: one linear layer from the descriptor to the atomic
    energy.  Fit analytically with ``CalculatorTorch(model).create(...); calc.fit()`` or
    train it like a network with ``Loss(calc).minimize(...)``."""

    def __init__(self, descriptor, seed: int = 35):
        super().__init__(descriptor, seed)
        self.layer = torch.nn.Linear(descriptor.get_size(), 1).to(self.dtype)

    def forward(self, x):
        return self.layer(x)

    def set_params(self, beta):
        """Set the bias (``beta[0]``) and the weights (``beta[1:]``)."""
        beta = torch.as_tensor(np.asarray(beta, dtype=float).reshape(-1), dtype=self.dtype)
        if beta.numel() != self.layer.in_features + 1:
            raise ParameterError(f"beta has {beta.numel()} entries; expected "
                                 f"{self.layer.in_features + 1} (bias, then weights)")
        with torch.no_grad():
            self.layer.bias.copy_(beta[:1])
            self.layer.weight.copy_(beta[1:].reshape(1, -1))

    def get_params(self) -> np.ndarray:
        """(bias, weights...) as float64."""
        return np.concatenate([self.layer.bias.detach().cpu().double().numpy(),
                               self.layer.weight.detach().cpu().double().numpy().ravel()])

    @staticmethod
    def design_matrix(calc, use_forces=False):
        """(A, y) of the least-squares problem of a created CalculatorTorch, float64:
        energy rows ``[N_c, sum_i zeta_i]`` then, with ``use_forces``, force rows
        ``[0, -sum_i dzeta_i/dr_k]``."""
        zeta = calc.zeta.detach().cpu().double().numpy()
        nat = calc.natoms
        C = len(nat)
        seg = np.repeat(np.arange(C), nat)
        zsum = np.zeros((C, zeta.shape[1]))
        np.add.at(zsum, seg, zeta)
        A = [np.column_stack([nat.astype(float), zsum])]
        y = [calc.ref_energy.detach().cpu().double().numpy()]
        if use_forces:
            if not calc.use_forces:
                raise ParameterError("fit(use_forces=True) needs a calculator created with "
                                     "use_forces=True")
            for k in range(C):
                n = int(nat[k])
                J = calc.dzetadr_dense(k).sum(axis=0).T  # (3n, D)
                A.append(np.column_stack([np.zeros(3 * n), -J]))
                a, b = calc.atom_offsets[k], calc.atom_offsets[k + 1]
                y.append(calc.ref_forces[a:b].detach().cpu().double().numpy().ravel())
        return np.vstack(A), np.concatenate(y)

    def fit_calculator(self, calc, use_forces=False):
        """Fit the linear model's coefficients to the calculator's training data by
        least squares (energies, and forces where used); the coefficients are set in place."""
        A, y = self.design_matrix(calc, use_forces)
        sol = torch.linalg.lstsq(torch.as_tensor(A), torch.as_tensor(y)[:, None],
                                 driver="gelsd").solution
        self.set_params(sol[:, 0].numpy())
        return self.get_params()
