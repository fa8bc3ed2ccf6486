"""W3 peer: GD steps x <- x - eta*2*a*x on f(x) = sum a_i x_i^2 at dimension d."""
import argparse

from common import emit, timed

ETA = 0.01

p = argparse.ArgumentParser()
p.add_argument("--lib", required=True, choices=["numpy", "torch", "jax"])
p.add_argument("--d", type=int, default=20_000_000)
p.add_argument("--steps", type=int, default=5)
a = p.parse_args()
d, steps = a.d, a.steps
units = d * steps
extra = {"bytes_per_unit": 24.0}

if a.lib == "numpy":
    import numpy as np

    i = np.arange(d)
    coef = 1.0 + (i % 16) / 16.0
    x = 1.0 + (i % 7) * 0.25
    tmp = np.empty_like(x)
    del i

    def run():
        for _ in range(steps):
            np.multiply(coef, x, out=tmp)
            np.multiply(tmp, 2.0 * ETA, out=tmp)
            np.subtract(x, tmp, out=x)

    secs, _ = timed(run)
    emit("numpy (3 in-place ufuncs with out=), 1 thread", secs, units,
         note="numpy %s; 3 passes over memory per step" % np.__version__, extra=extra)

elif a.lib == "torch":
    import torch

    torch.set_num_threads(2)
    i = torch.arange(d, dtype=torch.float64)
    coef = 1.0 + torch.remainder(i, 16) / 16.0
    x = 1.0 + torch.remainder(i, 7) * 0.25
    del i

    def run():
        for _ in range(steps):
            x.addcmul_(coef, x, value=-2.0 * ETA)

    run()
    secs, _ = timed(run)
    emit("torch x.addcmul_(a, x, value=-2*eta), %d threads" % torch.get_num_threads(),
         secs, units, note="torch %s" % torch.__version__, extra=extra)

else:
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    i = jnp.arange(d)
    coef = 1.0 + (i % 16) / 16.0
    x = 1.0 + (i % 7) * 0.25

    @jax.jit
    def step(x):
        return x - 2.0 * ETA * coef * x

    x = step(x).block_until_ready()

    def run():
        y = x
        for _ in range(steps):
            y = step(y)
        return y.block_until_ready()

    secs, _ = timed(run)
    emit("jax jit(one step), one pass per step", secs, units,
         note="jax %s" % jax.__version__, extra=extra)
