"""Torch models on descriptor fingerprints: the base class and the feed-forward network.

A model maps the (normalized) fingerprints of every atom, shape (natoms, D), to atomic
energies (natoms, 1); the configuration energy is their sum and forces follow from
dE/dzeta · dzeta/dr (see :mod:`workbench.ml.calculator_torch`).

``write_kim_model`` writes a portable-model directory for the DUNN model driver
(``DUNN__MD_292677547454_000``): ``descriptor.params`` (cutoff, symmetry-function
hyperparameters, mean and stdev), ``NN.params`` (layer sizes, activation, keep
probabilities, weights as ``Y = act(X W + b)``) and ``dropout_binary.params`` (the dropout
ensemble masks).
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch

from workbench.atomic import atomic_open
from workbench.errors import ModelError, ParameterError

DUNN_DRIVER = "DUNN__MD_292677547454_000"
DEFAULT_KIM_NAME = "NeuralNetwork_Workbench__MO_000000111111_000"
_ACTIVATIONS = {"Tanh": "tanh", "Sigmoid": "sigmoid", "ReLU": "relu", "ELU": "elu"}


def _torch_dtype(np_dtype):
    return torch.float64 if np.dtype(np_dtype) == np.float64 else torch.float32


def _atomic_save(obj, path: Path) -> None:
    with atomic_open(path, "wb") as fh:
        torch.save(obj, fh)


class Dropout(torch.nn.Module):
    """Dropout that zeros the same input components for every atom of a configuration.

    ``torch.nn.Dropout`` drops each element independently; for descriptor inputs that
    would treat the atoms of one configuration differently.  Here one mask (scaled by
    ``1/(1-p)`` in training mode) is drawn per configuration; the owning model sets
    ``segments`` (the configuration index of every row) before each forward pass, and
    without it all rows share one mask.  In eval mode the layer is the identity.
    """

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        if not 0.0 <= float(p) < 1.0:
            raise ParameterError(f"Dropout p={p!r}: expected a probability in [0, 1)")
        self.p = float(p)
        self.inplace = inplace
        self.segments: torch.Tensor | None = None

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return x
        seg = self.segments
        nseg = 1 if seg is None else int(seg.max()) + 1 if seg.numel() else 0
        keep = torch.bernoulli(torch.full((nseg, x.shape[-1]), 1.0 - self.p,
                                          dtype=x.dtype, device=x.device))
        mask = keep / (1.0 - self.p)
        return x * (mask[0] if seg is None else mask[seg])

    def extra_repr(self):
        return f"p={self.p}"


class ModelTorch(torch.nn.Module):
    """Base of the torch models: descriptor, dtype, saving during training, save/load.

    Args:
        descriptor: a descriptor (e.g. ``SymmetryFunction``) giving the input fingerprints.
        seed: seed of torch's global generator (weights and dropout masks).
    """

    is_torch = True

    def __init__(self, descriptor, seed: int = 35):
        super().__init__()
        self.descriptor = descriptor
        self.seed = seed
        torch.manual_seed(seed)
        self.dtype = _torch_dtype(getattr(descriptor, "dtype", np.float32))
        self.save_prefix = None
        self.save_start = 1
        self.save_frequency = 1

    # -- training-time saving ------------------------------------------------------------
    def set_save_metadata(self, prefix, start: int, frequency: int = 1):
        """Save the model to ``{prefix}/model_epoch{ep}.pkl`` every ``frequency`` epochs
        from epoch ``start`` on, during ``Loss.minimize``."""
        if int(frequency) < 1:
            raise ParameterError(f"frequency={frequency!r}: expected a positive integer")
        self.save_prefix = str(prefix)
        self.save_start = int(start)
        self.save_frequency = int(frequency)

    def maybe_save_epoch(self, epoch: int, force: bool = False):
        """Called by the loss after each epoch; returns the path written or None.
        ``force`` saves whatever the epoch (KLIFF saves the final model so)."""
        if self.save_prefix is None:
            return None
        if not force and (epoch < self.save_start
                          or (epoch - self.save_start) % self.save_frequency):
            return None
        path = Path(self.save_prefix) / f"model_epoch{epoch}.pkl"
        self.save(path)
        return path

    # -- persistence --------------------------------------------------------------------
    def _descriptor_state(self):
        sd = getattr(self.descriptor, "state_dict", None)
        return sd() if callable(sd) else None

    def save(self, filename="trained_model.pkl"):
        """Save the parameters and the descriptor's normalization (atomically)."""
        state = {"model": {k: v.detach().cpu().clone() for k, v in self.state_dict().items()},
                 "descriptor": self._descriptor_state(), "class": type(self).__name__}
        _atomic_save(state, Path(filename))
        return Path(filename)

    def load(self, filename="trained_model.pkl", mode: str = "train"):
        """Load parameters saved by :meth:`save`; ``mode`` "train" or "eval" sets the
        module mode (eval switches dropout off)."""
        if mode not in ("train", "eval"):
            raise ParameterError(f"mode={mode!r}: expected 'train' or 'eval'")
        from workbench.models import ownership

        ownership.check_mutable(self, "load weights into")
        try:
            state = torch.load(filename, map_location="cpu", weights_only=False)
            params = state["model"]
        except (OSError, pickle.UnpicklingError, EOFError, KeyError, RuntimeError) as e:
            raise ModelError(f"{filename}: cannot load a saved {type(self).__name__} ({e})") \
                from None
        try:
            self.load_state_dict(params)
        except RuntimeError as e:
            raise ModelError(f"{filename}: saved parameters do not fit this "
                             f"{type(self).__name__}: {e}") from None
        desc = state.get("descriptor")
        if desc is not None and hasattr(self.descriptor, "load_state_dict"):
            self.descriptor.load_state_dict(desc)
        self.train() if mode == "train" else self.eval()
        return self

    @property
    def device(self):
        for p in self.parameters():
            return p.device
        return torch.device("cpu")

    def ase_calculator(self, skin: float = 0.5):
        """An ASE calculator evaluating this model (see ``workbench/ml/ase_torch.py``)."""
        from workbench.models.ase_calculator import ase_calculator

        return ase_calculator(self, skin=skin)

    # -- flat parameter vector (for events, checkpoints, comparisons) -------------------
    def get_flat_params(self) -> np.ndarray:
        """All weights and biases as one flat float vector (layer order)."""
        ps = [p.detach().cpu().numpy().ravel() for p in self.parameters()]
        return np.concatenate(ps).astype(float) if ps else np.zeros(0)

    def set_flat_params(self, x):
        """Write a flat vector (layout of ``get_flat_params``) into the weights.
        Raises ParameterError when its length does not match, ModelBusyError while a
        training on another thread owns the network."""
        from workbench.models import ownership

        ownership.check_mutable(self, "set the weights")
        x = np.asarray(x, dtype=float)
        if x.size != sum(p.numel() for p in self.parameters()):
            raise ParameterError(f"flat parameter vector has {x.size} entries, the model "
                                 f"{sum(p.numel() for p in self.parameters())}")
        k = 0
        with torch.no_grad():
            for p in self.parameters():
                n = p.numel()
                p.copy_(torch.as_tensor(x[k:k + n], dtype=p.dtype).view_as(p))
                k += n

    def set_segments(self, segments):
        """Tell the per-configuration dropout layers which configuration each row is."""
        for m in self.modules():
            if isinstance(m, Dropout):
                m.segments = segments


class NeuralNetwork(ModelTorch):
    """Feed-forward network on the fingerprints (KLIFF's ``NeuralNetwork``).

    ``add_layers(Linear(D, n1), Tanh(), [Dropout(p)], Linear(n1, n2), ..., Linear(nk, 1))``
    """

    def __init__(self, descriptor, seed: int = 35):
        super().__init__(descriptor, seed)
        self.layers = None

    def add_layers(self, *layers):
        """Build the sequential network (call once); the first layer's input size must be
        the descriptor size and the last layer must have one output."""
        if self.layers is not None:
            raise ModelError("add_layers was already called; it builds the whole network")
        if not layers:
            raise ParameterError("add_layers: expected at least one torch.nn layer")
        linear = [la for la in layers if isinstance(la, torch.nn.Linear)]
        if not linear:
            raise ParameterError("add_layers: the network needs a torch.nn.Linear layer")
        size = self.descriptor.get_size()
        if linear[0].in_features != size:
            raise ParameterError(f"first Linear layer has in_features={linear[0].in_features}; "
                                 f"the descriptor size is {size}")
        if linear[-1].out_features != 1:
            raise ParameterError(f"last Linear layer has out_features="
                                 f"{linear[-1].out_features}; expected 1 (atomic energy)")
        self.layers = torch.nn.ModuleList(layers)
        self.to(self.dtype)

    def forward(self, x):
        if self.layers is None:
            raise ModelError("the network has no layers: call add_layers(...) first")
        for layer in self.layers:
            x = layer(x)
        return x

    # -- KIM export (DUNN driver) ---------------------------------------------------------
    def _groups(self):
        """(input keep prob, [(linear, activation, keep_prob_after)]) for DUNN."""
        layers = list(self.layers)
        i = 0
        in_keep = 1.0
        if layers and isinstance(layers[0], (Dropout, torch.nn.Dropout)):
            in_keep = 1.0 - layers[0].p
            i = 1
        groups = []
        while i < len(layers):
            lin = layers[i]
            if not isinstance(lin, torch.nn.Linear):
                raise ModelError(f"layer {i} ({type(lin).__name__}) cannot be written for "
                                 "DUNN: expected Linear [activation [Dropout]] blocks")
            act, keep = None, 1.0
            i += 1
            if i < len(layers) and type(layers[i]).__name__ in _ACTIVATIONS:
                act = _ACTIVATIONS[type(layers[i]).__name__]
                i += 1
                if i < len(layers) and isinstance(layers[i], (Dropout, torch.nn.Dropout)):
                    keep = 1.0 - layers[i].p
                    i += 1
            elif i < len(layers) and not isinstance(layers[i], torch.nn.Linear):
                raise ModelError(f"layer {i} ({type(layers[i]).__name__}) is not supported by "
                                 f"DUNN; activations: {', '.join(_ACTIVATIONS)}")
            groups.append((lin, act, keep))
        acts = {a for _, a, _ in groups[:-1]}
        if None in acts or len(acts) > 1 or groups[-1][1] is not None:
            raise ModelError("DUNN needs the same activation after every hidden Linear layer "
                             "and a plain Linear output layer")
        return in_keep, groups

    def write_kim_model(self, path=None, driver_name: str = DUNN_DRIVER,
                        dropout_ensemble_size: int | None = None, overwrite: bool = False):
        """Write a KIM portable model for the DUNN driver; returns its directory.

        ``path`` defaults to ``./NeuralNetwork_Workbench__MO_000000111111_000``; its last
        component is the model name.  Only symmetry-function descriptors can be written
        (the driver's descriptor).  Without dropout layers one all-ones ensemble member is
        written; otherwise ``dropout_ensemble_size`` (default 100) masks are drawn.
        An existing directory is replaced only if the workbench wrote it and
        ``overwrite=True``.
        """
        from workbench.ml.kim_dunn import write_dunn_model

        return write_dunn_model(self, path or DEFAULT_KIM_NAME, driver_name,
                                dropout_ensemble_size, overwrite)
