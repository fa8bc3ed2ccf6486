"""W2 peer: the basin map (n x n grid of x0 in [-20, 20] and eta in [0.01, 3],
50 fixed-step GD steps per cell on x*cos(0.15*pi*x)), vectorized over the grid."""
import argparse
import math

from common import emit, timed

C = 0.15 * math.pi

p = argparse.ArgumentParser()
p.add_argument("--lib", required=True, choices=["numpy", "torch", "jax"])
p.add_argument("--n", type=int, default=1000)
p.add_argument("--steps", type=int, default=50)
a = p.parse_args()
n, steps = a.n, a.steps
units = n * n * steps

if a.lib == "numpy":
    import numpy as np

    x0 = np.linspace(-20.0, 20.0, n)[:, None]
    eta = np.linspace(0.01, 3.0, n)[None, :]

    def run():
        x = np.repeat(x0, n, axis=1)
        cx, s, c = np.empty_like(x), np.empty_like(x), np.empty_like(x)
        for _ in range(steps):
            np.multiply(x, C, out=cx)
            np.sin(cx, out=s)
            np.cos(cx, out=c)
            np.multiply(cx, s, out=s)  # c*x*sin(c*x)
            np.subtract(c, s, out=c)   # f'(x)
            np.multiply(c, eta, out=c)
            np.subtract(x, c, out=x)
        return x

    secs, x = timed(run)
    emit("numpy vectorized (in-place ufuncs), 1 thread", secs, units,
         note="numpy %s; grid %dx%d" % (np.__version__, n, n))

elif a.lib == "torch":
    import torch

    torch.set_num_threads(2)
    torch.set_default_dtype(torch.float64)
    x0 = torch.linspace(-20.0, 20.0, n).reshape(n, 1)
    eta = torch.linspace(0.01, 3.0, n).reshape(1, n)

    def run():
        x = x0.repeat(1, n)
        for _ in range(steps):
            cx = x * C
            x.sub_(eta * (torch.cos(cx) - cx * torch.sin(cx)))
        return x

    run()
    secs, x = timed(run)
    emit("torch vectorized, %d threads" % torch.get_num_threads(), secs, units,
         note="torch %s" % torch.__version__)

else:
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    x0 = jnp.linspace(-20.0, 20.0, n).reshape(n, 1)
    eta = jnp.linspace(0.01, 3.0, n).reshape(1, n)

    @jax.jit
    def run(x0):
        x = jnp.repeat(x0, n, axis=1)

        def body(_, x):
            cx = x * C
            return x - eta * (jnp.cos(cx) - cx * jnp.sin(cx))

        return jax.lax.fori_loop(0, steps, body, x)

    compile_secs, _ = timed(lambda: run(x0).block_until_ready())
    secs, x = timed(lambda: run(x0).block_until_ready())
    emit("jax jit(fori_loop), vectorized", secs, units,
         note="jax %s, first call incl. compile %.2f s" % (jax.__version__, compile_secs))
