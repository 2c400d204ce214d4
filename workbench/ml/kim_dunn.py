"""Parameter files of the DUNN model driver (``DUNN__MD_292677547454_000``).

The driver reads three files, in this order:

``descriptor.params``
    cutoff type (the driver knows ``cos`` only), number of species, one line
    ``A  B  rcut`` per unordered species pair, the number of symmetry-function types, then
    for each type a header ``gN  rows  cols`` followed by ``rows`` lines of parameters
    (g2: eta Rs; g3: kappa; g4/g5: zeta lambda eta; g1 has no rows), and finally
    ``center_and_normalize True|False`` with the descriptor size, the means and the
    standard deviations.
``NN.params``
    number of layers (hidden + output), the size of each, the activation name, the keep
    probability of the input of each layer, then per layer the weight matrix (in x rows,
    out columns, ``Y = act(X W + b)``) and the bias row.
``dropout_binary.params``
    the ensemble size (0: a plain fully-connected network) and, for each member and each
    layer input, a 0/1 mask.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from workbench.errors import ModelError

_FIELDS = {"g2": ("eta", "Rs"), "g3": ("kappa",), "g4": ("zeta", "lambda", "eta"),
           "g5": ("zeta", "lambda", "eta")}


def _fmt(x) -> str:
    return f"{float(x): .17e}"


def descriptor_params(descriptor) -> str:
    """Text of ``descriptor.params`` for a ``SymmetryFunction``."""
    if type(descriptor).__name__ != "SymmetryFunction":
        raise ModelError(f"DUNN needs a SymmetryFunction descriptor, not "
                         f"{type(descriptor).__name__}")
    if descriptor.cut_name != "cos":
        raise ModelError(f"the DUNN driver supports the 'cos' cutoff only, the descriptor "
                         f"uses {descriptor.cut_name!r}")
    species = list(descriptor.species)
    out = ["# symmetry-function descriptor for the DUNN driver", "",
           "cos  # cutoff type", "", f"{len(species)}  # number of species", "",
           "# species 1    species 2    cutoff"]
    for i, a in enumerate(species):
        for b in species[i:]:
            out.append(f"{a}  {b}  {_fmt(descriptor.cutoff[f'{a}-{b}'])}")
    hp = descriptor.hyperparams
    out += ["", f"{len(hp)}  # number of symmetry function types", "",
            "# sym_function    rows    cols"]
    for name, rows in hp.items():
        if name == "g1":
            out += ["g1", ""]
            continue
        fields = _FIELDS[name]
        out.append(f"{name}  {len(rows)}  {len(fields)}")
        out += ["  ".join(_fmt(row[f]) for f in fields) for row in rows]
        out.append("")
    mean, stdev = descriptor.get_mean(), descriptor.get_stdev()
    if descriptor.normalize and mean is not None:
        out += ["center_and_normalize  True", "",
                f"{len(mean)}  # descriptor size", "# mean"]
        out += [_fmt(m) for m in mean]
        out += ["", "# standard deviation"] + [_fmt(s) for s in stdev] + [""]
    elif descriptor.normalize:
        raise ModelError("the descriptor has no mean/stdev yet: create a calculator on the "
                         "training set (or load the model) before writing the KIM model")
    else:
        out += ["center_and_normalize  False", ""]
    return "\n".join(out) + "\n"


def nn_params(in_keep, groups) -> str:
    """Text of ``NN.params`` from ``NeuralNetwork._groups()``."""
    act = groups[0][1] if len(groups) > 1 else "tanh"
    keeps = [in_keep] + [g[2] for g in groups[:-1]]
    out = ["# network: each row of X is one atom, Y = activation(X W + b)", "",
           f"{len(groups)}    # number of layers (excluding input layer, including output layer)",
           "  ".join(str(g[0].out_features) for g in groups) + "    # size of each layer",
           f"{act}    # activation function",
           "  ".join(f"{k:.15g}" for k in keeps) + "    # keep probability of input of each layer",
           ""]
    for n, (lin, _, _) in enumerate(groups):
        w = lin.weight.detach().cpu().double().numpy().T
        b = (lin.bias.detach().cpu().double().numpy() if lin.bias is not None
             else np.zeros(w.shape[1]))
        label = "output layer" if n == len(groups) - 1 else f"hidden layer {n + 1}"
        out.append(f"# weight of {label}, shape {w.shape}")
        out += [" ".join(_fmt(v) for v in row) for row in w]
        out.append(f"# bias of {label}")
        out += [" ".join(_fmt(v) for v in b), ""]
    return "\n".join(out) + "\n"


def dropout_params(in_size, in_keep, groups, ensemble_size, rng) -> str:
    keeps = [in_keep] + [g[2] for g in groups[:-1]]
    sizes = [in_size] + [g[0].out_features for g in groups[:-1]]
    out = ["# dropout masks of the ensemble members (0 members: no dropout)", "",
           f"{ensemble_size}  # number of repeat"]
    for m in range(ensemble_size):
        out.append(f"# instance {m}")
        for layer, (n, k) in enumerate(zip(sizes, keeps)):
            out.append(f"# layer {layer}")
            out.append(" ".join(str(int(v)) for v in (rng.random(n) < k)))
    return "\n".join(out) + "\n"


def write_dunn_model(model, path, driver_name, dropout_ensemble_size=None,
                     overwrite: bool = False) -> Path:
    from workbench.models.kim_export import cmakelists, write_directory

    if model.layers is None:
        raise ModelError("the network has no layers: call add_layers(...) first")
    path = Path(path).resolve()
    in_keep, groups = model._groups()
    has_dropout = in_keep < 1.0 or any(g[2] < 1.0 for g in groups)
    size = 0 if not has_dropout else int(dropout_ensemble_size or 100)
    rng = np.random.default_rng(model.seed)
    files = {
        "descriptor.params": descriptor_params(model.descriptor),
        "NN.params": nn_params(in_keep, groups),
        "dropout_binary.params": dropout_params(model.descriptor.get_size(), in_keep,
                                                groups, size, rng),
    }
    files["CMakeLists.txt"] = cmakelists(path.name, driver_name, list(files))
    return write_directory(path, files, overwrite)
