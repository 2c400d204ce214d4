"""A network's weights kept with its training run, and put back into a network.

A training run keeps the final weights (the best epoch's, when the session keeps the
best) as the artifact ``weights.pt``: ``torch.save`` of ``{model key: state_dict}`` for
every model of the calculator (one network, or one per species).  ``restore_weights``
loads them into a network of the same architecture (a ``CalculatorTorch``, its models,
or one network), so its predictions are exactly those at the end of the run.
torch is imported only here, when weights are written or read.
"""

from __future__ import annotations

import io

from ..errors import ModelError

ARTIFACT = "weights.pt"


def _models(target) -> dict:
    """``{key: torch module}`` of a calculator (``.models``), a dict, or one module."""
    models = getattr(target, "models", None)
    if isinstance(models, dict):
        return dict(models)
    if isinstance(target, dict):
        return dict(target)
    return {None: target}


def _key(k) -> str:
    return "" if k is None else str(k)


def weights_bytes(target) -> bytes:
    """The weights of ``target``'s networks as bytes (``torch.save`` of state dicts)."""
    import torch

    buf = io.BytesIO()
    torch.save({_key(k): {n: t.detach().cpu().clone() for n, t in m.state_dict().items()}
                for k, m in _models(target).items()}, buf)
    return buf.getvalue()


def weights_artifact(target) -> dict:
    """The ``artifacts`` entry a training run keeps its final weights with."""
    return {ARTIFACT: {"data": weights_bytes(target), "kind": "weights"}}


def restore_weights(store, run_ref, target) -> str:
    """Load the weights of training run ``run_ref`` into ``target`` (a calculator, a
    dict of networks or a network of the run's architecture); returns the run id.

    Raises ``ModelError`` naming the run when it kept no weights or the architectures
    differ (a missing network, a layer of another shape)."""
    import torch

    run_id = store.resolve(run_ref)
    path = store.artifact_dir(run_id) / ARTIFACT
    if not path.is_file():
        raise ModelError(f"run {run_id} kept no network weights ({path} is missing); only "
                         "training runs of neural networks keep them")
    saved = torch.load(path, map_location="cpu", weights_only=True)
    models = _models(target)
    if sorted(saved) != sorted(_key(k) for k in models):
        raise ModelError(f"run {run_id} has weights of the networks {sorted(saved)}, the "
                         f"target has {sorted(_key(k) for k in models)}")
    for k, model in models.items():
        state = saved[_key(k)]
        own = model.state_dict()
        for name, tensor in state.items():
            if name not in own or tuple(own[name].shape) != tuple(tensor.shape):
                have = tuple(own[name].shape) if name in own else "no such layer"
                raise ModelError(f"run {run_id}: weights {name!r} have shape "
                                 f"{tuple(tensor.shape)}, the target network's {have}; "
                                 "build the network as the run did")
        model.load_state_dict(state)
    for attr in ("results",):  # a calculator's cached predictions are stale now
        if hasattr(target, attr):
            setattr(target, attr, None)
    return run_id
