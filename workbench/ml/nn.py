"""KLIFF's ``nn`` namespace: torch's layers plus the per-configuration ``Dropout``.

    from workbench.ml import nn
    model.add_layers(nn.Linear(51, 10), nn.Tanh(), nn.Dropout(0.1), nn.Linear(10, 1))
"""

from torch.nn import *  # noqa: F401,F403

from workbench.ml.neural_network import Dropout  # noqa: F401  (replaces torch's)
