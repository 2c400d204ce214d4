"""A symmetry-function network as a set-up: built from a ``model: network:`` section,
trained as the Workbench's Fit tab trains it, by the page and by ``workbench fit`` alike.

One place decides everything that makes a training reproducible, so a set-up exported
from the Workbench reruns to the same weights:

* :func:`build_network` makes the architecture; ``NeuralNetwork(seed=...)`` seeds torch's
  generator before the layers are created, so the starting weights follow from the seed;
* :func:`training_losses` builds the training loss (the workbench convention: ½‖u‖² per
  batch, shuffled batches seeded by the network's seed, best epoch kept) and the test
  loss over the held-out configurations (normalized with the training statistics);
* :func:`split_options` reads ``{epochs, batch_size, lr}`` plus the session's and the
  torch optimizer's keywords.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from workbench.errors import LossError, ModelError

ACTIVATIONS = ("Tanh", "Sigmoid", "ReLU", "ELU")
TORCH_METHODS = ("Adam", "AdamW", "SGD", "RMSprop", "Adagrad", "Adamax", "NAdam", "RAdam",
                 "LBFGS")
DEFAULT_METHOD = "Adam"
DEFAULT_OPTIONS = {"epochs": 50, "batch_size": 10, "lr": 0.01}
DEFAULT_SEED = 35
_SESSION_KEYS = ("keep_best", "shuffle", "time_limit")


def build_network(species, cutoff: float, hidden, activation: str = "Tanh",
                  hyperparams: str = "set51", seed: int = DEFAULT_SEED):
    """A NeuralNetwork on symmetry functions: ``hidden`` layer sizes, one activation;
    the starting weights follow from ``seed``."""
    from workbench.ml import NeuralNetwork, SymmetryFunction, nn

    hidden = [int(h) for h in hidden]
    if not hidden or any(h < 1 for h in hidden):
        raise ModelError(f"hidden layer sizes must be positive integers, got {hidden}")
    if activation not in ACTIVATIONS:
        raise ModelError(f"activation {activation!r}; expected one of {', '.join(ACTIVATIONS)}")
    pairs = {f"{a}-{b}": float(cutoff) for i, a in enumerate(species) for b in species[i:]}
    descriptor = SymmetryFunction(cut_dists=pairs, cut_name="cos", hyperparams=hyperparams,
                                  normalize=True)
    model = NeuralNetwork(descriptor, seed=int(seed))
    sizes = [descriptor.get_size()] + hidden
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(n_in, n_out), getattr(nn, activation)()]
    layers.append(nn.Linear(sizes[-1], 1))
    model.add_layers(*layers)
    model.workbench_hyperparams = hyperparams  # written to set-up files (network_section)
    return model


def layer_sizes(model) -> list[int]:
    """Input size, hidden sizes and output size of the Linear layers."""
    linear = [m for _, m in model.named_modules() if hasattr(m, "in_features")]
    return [linear[0].in_features] + [la.out_features for la in linear] if linear else []


def network_section(model) -> dict:
    """The ``model`` section of a set-up file for a symmetry-function network: what
    :func:`build_network` needs to build the same network with the same starting weights
    (the trained weights go to the model file, not here)."""
    desc = getattr(model, "descriptor", None)
    cut = getattr(desc, "cut_dists", None)
    if desc is None or not cut:
        raise ModelError(f"{type(model).__name__}: only networks on symmetry functions can "
                         "be written to a set-up file")
    hyper = getattr(model, "workbench_hyperparams", None) or "set51"
    layers = list(getattr(model, "layers", None) or model.children())
    acts = [type(la).__name__ for la in layers if not hasattr(la, "in_features")]
    return {"name": type(model).__name__,
            "network": {"species": [str(s) for s in desc.species],
                        "cutoff": float(max(cut.values())),
                        "descriptor": hyper,
                        "hidden": [int(s) for s in layer_sizes(model)[1:-1]],
                        "activation": acts[0] if acts else "Tanh",
                        "seed": int(getattr(model, "seed", DEFAULT_SEED))}}


def network_from_section(net: dict):
    """The network of a set-up file's ``model: network:`` mapping."""
    unknown = set(net) - {"species", "cutoff", "descriptor", "hidden", "activation", "seed"}
    if unknown:
        raise ModelError(f"unknown network key(s) {sorted(unknown)}; expected species, "
                         "cutoff, descriptor, hidden, activation, seed")
    for key in ("species", "cutoff", "hidden"):
        if key not in net:
            raise ModelError(f"the network needs {key!r}")
    return build_network(list(net["species"]), float(net["cutoff"]), net["hidden"],
                         net.get("activation", "Tanh"), net.get("descriptor", "set51"),
                         int(net.get("seed", DEFAULT_SEED)))


def split_options(options: dict) -> tuple[dict, dict]:
    """``(session keywords, optimizer keywords)`` from a training's options mapping."""
    opts = dict(options or {})
    if "epochs" in opts and "num_epochs" in opts:
        raise LossError("options: give either epochs or num_epochs, not both")
    epochs = opts.pop("epochs", opts.pop("num_epochs", DEFAULT_OPTIONS["epochs"]))
    session = {"num_epochs": epochs,
               "batch_size": opts.pop("batch_size", DEFAULT_OPTIONS["batch_size"]),
               "lr": opts.pop("lr", DEFAULT_OPTIONS["lr"])}
    for key, kind in (("num_epochs", int), ("batch_size", int), ("lr", float)):
        value = session[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                (kind is int and int(value) != value) or value <= 0:
            name = "epochs" if key == "num_epochs" else key
            raise LossError(f"options: {name}={value!r}; expected a positive "
                            f"{'integer' if kind is int else 'number'}")
        session[key] = kind(value)
    for key in _SESSION_KEYS:
        if key in opts:
            session[key] = opts.pop(key)
    return session, opts


def training_losses(model, configs, test_configs, fit: dict):
    """``(loss, test_loss)`` of ``model`` over ``configs`` and ``test_configs`` (None when
    empty) with the ``fit`` section's flags, residual and normalization."""
    from workbench.fit import residuals as R
    from workbench.ml.calculator_torch import CalculatorTorch
    from workbench.ml.loss_torch import LossNeuralNetworkModel

    configs = list(configs)
    if not configs:
        raise LossError("no configurations to fit: include some in the Data tab")
    calc = CalculatorTorch(model)
    # the fingerprints are loaded into memory by create; their files are not kept
    with tempfile.TemporaryDirectory(prefix="workbench-fingerprints-") as tmp:
        calc.create(configs, use_energy=bool(fit["use_energy"]),
                    use_forces=bool(fit["use_forces"]), use_stress=bool(fit["use_stress"]),
                    fingerprints_filename=Path(tmp) / "fingerprints.pkl", reuse=False)
    residual = fit.get("residual") or None
    fn = R.RESIDUALS_BY_NAME.get(residual, residual) if residual else None
    loss = LossNeuralNetworkModel(
        calc, residual_fn=fn,
        residual_data={"normalize_by_natoms": bool(fit.get("normalize_by_natoms", True))},
        convention="workbench")
    test_configs = list(test_configs or ())
    return loss, (loss.held_out(test_configs) if test_configs else None)


def training_session(loss, test_loss, method: str, options: dict, **kwargs):
    """A (not started) TrainingSession of ``loss`` with the options of a set-up or the Fit
    tab; ``kwargs`` go to the session (run store ``store``, ``name``, ``tags``)."""
    session_kw, optim_kw = split_options(options)
    num_epochs = session_kw.pop("num_epochs")
    batch_size = session_kw.pop("batch_size")
    lr = session_kw.pop("lr")
    return loss.training_session(method, batch_size=batch_size, num_epochs=num_epochs,
                                 lr=lr, test_loss=test_loss, **session_kw, **optim_kw,
                                 **kwargs)


def predictions(label: str, loss):
    """``workbench.fit.report.Predictions`` of the configurations of ``loss`` (None
    without a loss)."""
    if loss is None:
        return None
    from workbench.fit.report import Predictions

    calc = loss.calculator
    calc.compute()
    res = calc.results
    natoms = np.asarray(calc.natoms, dtype=float)
    forces = calc.use_forces
    return Predictions(label, [str(c.identifier) for c in calc.configs], natoms,
                       np.asarray(res["energy"], float),
                       calc.ref_energy.detach().cpu().numpy().astype(float).ravel(),
                       res["forces"] if forces else np.zeros((0, 3)),
                       calc.ref_forces.detach().cpu().numpy().astype(float) if forces
                       else np.zeros((0, 3)))
