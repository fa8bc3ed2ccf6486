"""W4 peer: dense Newton steps on f(x) = x'Ax/2 - b'x with A_ij = 0.5^|i-j| + delta_ij:
gradient, Cholesky (scipy.linalg.cho_factor) and solve (cho_solve) per step."""
import argparse

import numpy as np
from scipy.linalg import cho_factor, cho_solve
import scipy

from common import blas_note, emit, timed

p = argparse.ArgumentParser()
p.add_argument("--d", type=int, default=500)
p.add_argument("--steps", type=int, default=10)
a = p.parse_args()
d, steps = a.d, a.steps

i = np.arange(d)
A = 0.5 ** np.abs(i[:, None] - i[None, :]) + np.eye(d)
b = 1.0 + (i % 5)


def run():
    x = (i % 3) - 1.0
    for _ in range(steps):
        g = A @ x - b
        p = cho_solve(cho_factor(A, lower=True, check_finite=False), g, check_finite=False)
        x -= p
    return x


run()
secs, x = timed(run)
emit("scipy cho_factor + cho_solve", secs, steps,
     note="scipy %s; max|Ax-b| after = %.1e; %s" % (scipy.__version__, np.abs(A @ x - b).max(), blas_note()))
