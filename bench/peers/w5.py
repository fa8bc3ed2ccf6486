"""W5 peer: scipy.optimize.minimize on 2-D Rosenbrock from (-1.2, 1):
BFGS (gtol 1e-5) and Newton-CG, with scipy's rosen, rosen_der, rosen_hess."""
import argparse

import numpy as np
import scipy
from scipy.optimize import minimize, rosen, rosen_der, rosen_hess

from common import emit, repeat_for

p = argparse.ArgumentParser()
p.add_argument("--method", required=True, choices=["bfgs", "newton-cg"])
p.add_argument("--min-secs", type=float, default=0.3)
a = p.parse_args()
x0 = np.array([-1.2, 1.0])

if a.method == "bfgs":
    def solve():
        return minimize(rosen, x0, jac=rosen_der, method="BFGS", options={"gtol": 1e-5})
    row = "scipy minimize(method='BFGS')"
else:
    def solve():
        return minimize(rosen, x0, jac=rosen_der, hess=rosen_hess, method="Newton-CG")
    row = "scipy minimize(method='Newton-CG')"

solve()
secs, calls, r = repeat_for(a.min_secs, solve)
emit(row, secs, r.nit * calls, solves=calls,
     note="scipy %s; %d iters, nfev=%d, njev=%d, x=(%.6f, %.6f), success=%s"
     % (scipy.__version__, r.nit, r.nfev, r.njev, r.x[0], r.x[1], r.success))
