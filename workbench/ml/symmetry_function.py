from workbench.ml.descriptors.symmetry_function import SymmetryFunction  # noqa: F401
