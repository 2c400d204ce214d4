"""Our SOAP (featomic) against a second, independent implementation (DScribe).

The two libraries cannot give the same numbers entry by entry: their radial bases differ
(featomic: orthonormalized r^n exp(-r^2 / 2 sigma_n^2), sigma_n = r_c sqrt(n) / n_max;
DScribe: orthonormalized r^l exp(-alpha_nl r^2) with its own alphas), their power spectra
differ by an l-dependent factor (featomic (-1)^l / sqrt(2l+1), DScribe
pi sqrt(8 / (2l+1))), featomic multiplies a cross-species block by sqrt(2) (it stands for
its transpose too) where DScribe does not, DScribe keeps only n1 <= n2 of a same-species
block, and the
cutoffs differ (featomic: neighbors within r_c, smoothed by a shifted cosine over the last
``cutoff_width``; DScribe: neighbors within r_c plus a padding of 3.7 sigma, no smoothing).

Mapped conventions: the same Gaussian width (both a standard deviation), the same
cutoff radius, both densities including the central atom; environments chosen so that
every neighbor is well inside r_c - cutoff_width and its Gaussian has decayed before r_c
(so both see the same, unweighted density); the l-factors differ only by the constant
8 pi^2 in the squared features, which cancels in a normalized kernel; DScribe's upper
triangle is unfolded to the full n1 x n2 matrix in featomic's (l, n1, n2) order and its
cross-species entries weigh 2 in the kernel.

What must then agree is basis independent: the normalized SOAP kernel between
environments, k(i, j) = p_i . p_j / |p_i| |p_j|, which for a complete radial basis is the
rotation-averaged density overlap.  It converges to the same values as both bases grow
(checked: the largest difference falls from 2e-2 to 3e-4)."""

import numpy as np
import pytest

dscribe = pytest.importorskip(
    "dscribe", reason="DScribe (the second SOAP implementation; in the dev extra) is not "
                      "installed")

from ase import Atoms  # noqa: E402
from scipy.spatial.transform import Rotation  # noqa: E402

from workbench.ml.descriptors import SOAP  # noqa: E402

RC, SIGMA, WIDTH = 6.0, 0.5, 0.5


def cluster(symbols, seed):
    """A compact cluster: atoms 1.8-3.6 A apart, within 2.2 A of the first (every pair
    closer than 4.4 A, far inside RC - WIDTH with the Gaussians' tails)."""
    rng = np.random.default_rng(seed)
    pos, n = [np.zeros(3)], len(Atoms(symbols))
    while len(pos) < n:
        p = rng.normal(size=3) * 1.3
        d = np.linalg.norm(np.array(pos) - p, axis=1)
        if d.min() > 1.8 and d.max() < 3.6 and np.linalg.norm(p) < 2.2:
            pos.append(p)
    return Atoms(symbols, positions=np.array(pos))


def ours(atoms, species, n_max, l_max):
    cut = {f"{a}-{b}": RC for i, a in enumerate(species) for b in species[i:]}
    d = SOAP(cut, hyperparams={"n_max": n_max, "l_max": l_max, "eta": SIGMA,
                               "cutoff_width": WIDTH}, dtype=np.float64)
    assert d.species == species
    z = d.transform(atoms)[0]
    # featomic already multiplies a cross-species block by sqrt(2) (it stands for itself
    # and its transpose), so every entry weighs 1 in the kernel
    return z, np.ones(z.shape[1])


def theirs(atoms, species, n_max, l_max):
    """DScribe's features unfolded to ours: same-species blocks to the full symmetric
    n1 x n2 matrix per l (featomic's (l, n1, n2) order); cross-species blocks as given
    (a kernel is invariant to one order of entries used for both environments), weighing
    2 in the kernel (the block and its transpose)."""
    from dscribe.descriptors import SOAP as DScribeSOAP

    d = DScribeSOAP(r_cut=RC, n_max=n_max, l_max=l_max, sigma=SIGMA, species=species,
                    periodic=False)
    raw = d.create(atoms)
    parts, weights = [], []
    for i, a in enumerate(species):
        for b in species[i:]:
            block = raw[:, d.get_location((a, b))]
            if a != b:
                parts.append(block)
                weights.append(np.full(block.shape[1], 2.0))
                continue
            full = np.zeros((len(atoms), l_max + 1, n_max, n_max))
            col = 0
            for ell in range(l_max + 1):
                for n1 in range(n_max):
                    for n2 in range(n1, n_max):
                        full[:, ell, n1, n2] = full[:, ell, n2, n1] = block[:, col]
                        col += 1
            assert col == block.shape[1]
            parts.append(full.reshape(len(atoms), -1))
            weights.append(np.ones(parts[-1].shape[1]))
    return np.hstack(parts), np.concatenate(weights)


def kernel(x, y, w):
    k = (x * w) @ y.T
    return k / np.sqrt(np.outer(((x * w) * x).sum(1), ((y * w) * y).sum(1)))


@pytest.mark.parametrize("symbols,species", [("Si6", ["Si"]), ("Si3C3", ["Si", "C"])])
def test_kernel_agrees_with_dscribe_as_the_bases_converge(symbols, species):
    a, b = cluster(symbols, 1), cluster(symbols, 2)
    gaps = []
    for n_max, l_max in ((6, 6), (12, 8)):
        (za, w), (zb, _) = ours(a, species, n_max, l_max), ours(b, species, n_max, l_max)
        (da, v), (db, _) = (theirs(a, species, n_max, l_max),
                            theirs(b, species, n_max, l_max))
        assert za.shape == da.shape
        k_ours = np.vstack([kernel(za, za, w), kernel(za, zb, w)])
        k_theirs = np.vstack([kernel(da, da, v), kernel(da, db, v)])
        assert k_ours.min() < 0.8  # environments that differ: the check has teeth
        gaps.append(np.abs(k_ours - k_theirs).max())
        # and species pair by species pair (block by block)
        size = n_max ** 2 * (l_max + 1)
        for k in range(za.shape[1] // size):
            cols = slice(k * size, (k + 1) * size)
            block_gap = np.abs(kernel(za[:, cols], zb[:, cols], w[cols])
                               - kernel(da[:, cols], db[:, cols], v[cols])).max()
            assert block_gap < (2e-3 if n_max == 12 else 0.1), (k, block_gap)
    # entry by entry the values are not comparable (other radial basis) ...
    assert not np.allclose(np.abs(za), np.abs(da), rtol=0.05)
    # ... but the kernel is, and more closely the more complete the bases
    assert gaps[1] < 1e-3 and gaps[1] < gaps[0] / 5, gaps


def test_both_are_invariant_under_rotation():
    a = cluster("Si3C3", 4)
    turned = a.copy()
    turned.positions = a.positions @ Rotation.from_euler("zyx", [0.4, -1.2, 2.0]).as_matrix().T
    for compute in (ours, theirs):
        z, _ = compute(a, ["Si", "C"], 6, 4)
        zt, _ = compute(turned, ["Si", "C"], 6, 4)
        assert np.allclose(zt, z, rtol=1e-7, atol=1e-10 * np.abs(z).max()), compute.__name__
