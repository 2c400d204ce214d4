"""Machine-learning potentials: descriptors, torch models, their calculators and loss.

KLIFF-style names, imported on first use (torch is loaded only when a model is needed)::

    from workbench.ml import SymmetryFunction, NeuralNetwork, CalculatorTorch, nn
"""

from importlib import import_module

_NAMES = {
    "SymmetryFunction": "workbench.ml.descriptors",
    "SOAP": "workbench.ml.descriptors",
    "Descriptor": "workbench.ml.descriptors",
    "show_available_descriptors": "workbench.ml.descriptors",
    "generate_fingerprints": "workbench.ml.fingerprints",
    "NeuralNetwork": "workbench.ml.neural_network",
    "ModelTorch": "workbench.ml.neural_network",
    "Dropout": "workbench.ml.neural_network",
    "LinearRegression": "workbench.ml.linear_regression",
    "CalculatorTorch": "workbench.ml.calculator_torch",
    "CalculatorTorchSeparateSpecies": "workbench.ml.calculator_torch",
    "LossNeuralNetworkModel": "workbench.ml.loss_torch",
    "TrainingSession": "workbench.ml.training_session",
    "RadialGraph": "workbench.ml.graphs",
    "PyGGraph": "workbench.ml.graphs",
    "EnergyNormalization": "workbench.ml.transforms",
    "ForceRMSNormalization": "workbench.ml.transforms",
}

__all__ = [
    "CalculatorTorch",
    "CalculatorTorchSeparateSpecies",
    "Descriptor",
    "Dropout",
    "EnergyNormalization",
    "ForceRMSNormalization",
    "LinearRegression",
    "LossNeuralNetworkModel",
    "ModelTorch",
    "NeuralNetwork",
    "PyGGraph",
    "RadialGraph",
    "SOAP",
    "SymmetryFunction",
    "TrainingSession",
    "generate_fingerprints",
    "nn",
    "show_available_descriptors",
]


def __getattr__(name):
    if name == "nn":
        return import_module("workbench.ml.nn")
    try:
        module = _NAMES[name]
    except KeyError:
        raise AttributeError(f"module 'workbench.ml' has no attribute {name!r}") from None
    return getattr(import_module(module), name)
