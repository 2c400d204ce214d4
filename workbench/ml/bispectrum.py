from workbench.ml.descriptors.bispectrum import Bispectrum, bispectrum_default  # noqa: F401
