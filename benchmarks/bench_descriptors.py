"""Where the time of set51 fingerprints with force derivatives goes, on the Si set's
varying_alat part (400 configurations: 300 x 64 + 100 x 8 atoms), cos cutoff 5 Å.

Figures (wall and CPU = process_time over all threads, after a warm-up so numba
compilation is excluded):

1. neighbor lists of all configurations;
2. the descriptor kernel (values + dzeta/dr in the dense KLIFF layout, float64) writing into
   memory that has been touched before, nprocs = 1 and 2;
3. ``transform_many`` end to end with every result kept in memory (fresh memory: the
   first-touch page faults of the ~1.5 GB float64 output are included), nprocs = 1 and 2;
4. first touch of an output-sized buffer alone (what 3 pays on top of 1 + 2 on this host);
5. writing the float32 KLIFF-layout fingerprint file (~756 MB; I/O, reported apart).

The bispectrum (jmax = 4) is timed on the 8-atom configurations.
"""

from __future__ import annotations

import os
import pickle
import tempfile
import time

import numpy as np

from workbench import datasets
from workbench.data.dataset import Dataset
from workbench.ml.descriptors import Bispectrum, SymmetryFunction
from workbench.ml.descriptors import _sf_kernels as K


def _clock():
    return time.perf_counter(), time.process_time()


def _since(t):
    w, c = _clock()
    return w - t[0], c - t[1]


def _fmt(label, wc):
    return f"{label}: {wc[0]:.3f} s wall, {wc[1]:.3f} s CPU"


def kernel_only(sf, nb, nprocs):
    """Values + force derivatives into a pre-touched output."""
    nd = sf.size
    nat = np.diff(nb.config_offsets)
    dr_offsets = np.zeros(len(nat) + 1, dtype=np.int64)
    np.cumsum(nat * nat * nd * 3, out=dr_offsets[1:])
    zeta = np.zeros((nb.species.shape[0], nd))
    dzdr = np.ones(int(dr_offsets[-1]))
    dzds = np.zeros((0, nd, 6))

    def work(lo, hi):
        K.symmetry_functions_batch(
            nb.config_offsets, nb.species, nb.pair_offsets, nb.pair_j, nb.pair_d,
            sf.rcut_table, sf._cut_code, *sf._two, *sf._three, nd, True, False, lo, hi,
            zeta, dzdr, dr_offsets, dzds)

    dzdr[:] = 0.0
    t = _clock()
    sf._parallel(work, len(nat), nprocs)
    return _since(t)


def main():
    configs = Dataset(datasets.path("Si") / "varying_alat").configs
    natoms = sum(len(c.species) for c in configs)
    nbytes = sum(len(c.species) ** 2 for c in configs) * 51 * 3 * 8
    print(f"configurations: {len(configs)}, atoms: {natoms}; float64 dzeta/dr "
          f"{nbytes / 1e6:.0f} MB (float32 file {nbytes / 2e6:.0f} MB); load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    sf = SymmetryFunction({"Si-Si": 5.0}, "cos", "set51")
    list(sf.transform_many(configs[:2], fit_forces=True, nprocs=2))
    t = _clock()
    nb = sf.neighbor_batch(configs)
    print(_fmt("1. neighbor lists", _since(t)))
    for nprocs in (1, 2):
        print(_fmt(f"2. kernel, values + force derivatives, nprocs={nprocs}",
                   kernel_only(sf, nb, nprocs)))
    for nprocs in (1, 2):
        t = _clock()
        results = list(sf.transform_many(configs, fit_forces=True, nprocs=nprocs))
        print(_fmt(f"3. transform_many, all results kept, nprocs={nprocs}", _since(t)))
        del results
    t = _clock()
    buf = np.zeros(nbytes // 8)
    buf[::512] = 1.0
    print(_fmt("4. first touch of an output-sized float64 buffer", _since(t)))
    del buf
    with tempfile.TemporaryDirectory() as tmp:
        results = list(sf.transform_many(configs, fit_forces=True, nprocs=2))
        t = _clock()
        arrays = [r[1].astype(np.float32) for r in results]
        with open(os.path.join(tmp, "fp.pkl"), "wb") as f:
            pickle.dump(arrays, f, protocol=pickle.HIGHEST_PROTOCOL)
        print(_fmt("5. float32 conversion + writing the dzeta/dr file (I/O)", _since(t)))
        del results, arrays
    small = [c for c in configs if len(c.species) == 8]
    bs = Bispectrum({"Si-Si": 5.0}, "cos", {"jmax": 4})
    list(bs.transform_many(small[:1], fit_forces=True))
    t = _clock()
    list(bs.transform_many(small, fit_forces=True, nprocs=2))
    print(_fmt(f"bispectrum jmax=4 (55 components) with force derivatives, {len(small)} "
               "8-atom configurations, nprocs=2", _since(t)))


if __name__ == "__main__":
    main()
