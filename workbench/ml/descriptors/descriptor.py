"""The function-style descriptor interface: ``forward`` gives the descriptor matrix,
``backward`` the vector-Jacobian product used for forces (forces = -backward(conf, dE/dzeta)).

    desc = Descriptor(cutoff=5.0, species=["Si"], descriptor="SymmetryFunctions",
                      hyperparameters=symmetry_functions_set51())
    zeta = desc.forward(conf)                # (natoms, D), unnormalized, float64
    forces = -desc.backward(conf, dE_dzeta)  # (natoms, 3)
"""

from __future__ import annotations

import numpy as np

from workbench.errors import ParameterError
from workbench.ml.descriptors.bispectrum import Bispectrum, bispectrum_default
from workbench.ml.descriptors.hyperparams import get_set30, get_set51
from workbench.ml.descriptors.symmetry_function import SymmetryFunction

_AVAILABLE = {
    "SymmetryFunctions": "Behler G1-G5 symmetry functions; hyperparameters as "
                         "SymmetryFunction's dict, e.g. symmetry_functions_set51()",
    "Bispectrum": "SNAP bispectrum components B(j1, j2, j); hyperparameters as "
                  "Bispectrum's dict, e.g. bispectrum_default(species)",
    "SOAP": "SOAP power spectrum (featomic); hyperparameters as soap_default()",
}


def show_available_descriptors() -> list[str]:
    """Print and return the descriptor names ``Descriptor`` accepts; descriptor classes
    from plugins (entry-point group ``workbench.descriptors``) are printed after them."""
    print("Available descriptors:")
    for name, text in _AVAILABLE.items():
        print(f"  {name}: {text}")
    from workbench import plugins

    extra = plugins.available_descriptors()
    if extra:
        print("Descriptor classes from plugins:")
        for name, cls in extra.items():
            print(f"  {name}: {getattr(cls, '__module__', '')}.{getattr(cls, '__name__', cls)}")
    return list(_AVAILABLE)


def symmetry_functions_set51() -> dict:
    return get_set51()


def symmetry_functions_set30() -> dict:
    return get_set30()


def soap_default() -> dict:
    """KLIFF 1.x's SOAP defaults: n_max 4, l_max 4, cutoff 4 Å, polynomial radial basis,
    Gaussian width eta 0.5 Å."""
    return {"n_max": 4, "l_max": 4, "cutoff": 4.0, "radial_basis": "polynomial", "eta": 0.5}


class Descriptor:
    """A descriptor with the same cutoff for every species pair.

    Args:
        cutoff: cutoff radius (Å).
        species: chemical symbols the configurations may contain.
        descriptor: one of :func:`show_available_descriptors`.
        hyperparameters: the descriptor's hyperparameters (default: set51 for the
            symmetry functions, ``bispectrum_default(species)`` for the bispectrum).
        cutoff_function: ``"cos"``, ``"P3"`` or ``"P7"`` (the bispectrum: ``"cos"``).
    """

    def __init__(self, cutoff: float, species: list[str],
                 descriptor: str = "SymmetryFunctions", hyperparameters=None,
                 cutoff_function: str = "cos"):
        if descriptor not in _AVAILABLE:
            raise ParameterError(f"descriptor {descriptor!r} unknown; available: "
                                 f"{', '.join(_AVAILABLE)}")
        if not species:
            raise ParameterError("species: expected at least one chemical symbol")
        self.cutoff = float(cutoff)
        self.species = list(species)
        self.descriptor_name = descriptor
        cut = {f"{a}-{b}": self.cutoff for k, a in enumerate(self.species)
               for b in self.species[k:]}
        if descriptor == "SOAP":
            from workbench.ml.descriptors.soap import SOAP

            if hyperparameters is None:
                hyperparameters = soap_default()
            hp = {k: v for k, v in hyperparameters.items() if k != "cutoff"}
            self._impl = SOAP(cut, cutoff_function, hp, normalize=False, dtype=np.float64)
        elif descriptor == "Bispectrum":
            if hyperparameters is None:
                hyperparameters = bispectrum_default(self.species)
            self._impl = Bispectrum(cut, cutoff_function, hyperparameters,
                                    normalize=False, dtype=np.float64)
        else:
            if hyperparameters is None:
                hyperparameters = symmetry_functions_set51()
            self._impl = SymmetryFunction(cut, cutoff_function, hyperparameters,
                                          normalize=False, dtype=np.float64)
        self.hyperparameters = hyperparameters

    @property
    def width(self) -> int:
        """Length of one atom's descriptor vector."""
        return self._impl.get_size()

    def get_size(self) -> int:
        """Number of descriptor components per atom."""
        return self.width

    def forward(self, config) -> np.ndarray:
        """Descriptor matrix (natoms, D) of ``config``."""
        return self._impl.transform(config)[0]

    def backward(self, config, dE_dZeta) -> np.ndarray:
        """Vector-Jacobian product sum_{i,q} dE/dzeta[i,q] * d zeta[i,q] / d r_k, (natoms, 3)."""
        _, dzdr, _ = self._impl.transform(config, fit_forces=True)
        n, nd, _ = dzdr.shape
        g = np.asarray(dE_dZeta, dtype=np.float64)
        if g.shape != (n, nd):
            raise ParameterError(f"dE_dZeta has shape {g.shape}, expected ({n}, {nd})")
        return np.einsum("iq,iqk->k", g, dzdr).reshape(n, 3)

    def forward_and_jacobian(self, config):
        """(zeta (N, D), dzeta/dr (N, D, N, 3))."""
        zeta, dzdr, _ = self._impl.transform(config, fit_forces=True)
        n, nd = zeta.shape
        return zeta, dzdr.reshape(n, nd, n, 3)
