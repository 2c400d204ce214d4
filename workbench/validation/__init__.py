"""Property suite: does a fitted potential predict the right physics?

``validate(model, structure, species)`` computes lattice constants, cohesive energy, the
E-V curve with a Birch-Murnaghan fit, elastic constants, phonons, vacancy and surface
energies, dimer and trimer curves and an MD stability run through the model's ASE
calculator (ASE for structures, relaxations, EOS and MD; phonopy for phonons), and puts
bundled reference values beside them.  ``validate_ensemble`` repeats it for every member
of a bootstrap or MCMC ensemble.  See docs/validation.md for the definitions.
"""

from workbench.validation.settings import ALL_PROPERTIES, DEFAULT_PROPERTIES, ValidationSettings
from workbench.validation.structures import ValidationError, build_structure
from workbench.validation.suite import SUMMARY_UNITS, ValidationResult, validate
from workbench.validation.ensemble import EnsembleResult, save_ensemble, validate_ensemble

__all__ = ["ALL_PROPERTIES", "DEFAULT_PROPERTIES", "SUMMARY_UNITS", "EnsembleResult",
           "ValidationError", "ValidationResult", "ValidationSettings", "build_structure",
           "save_ensemble", "validate", "validate_ensemble"]
