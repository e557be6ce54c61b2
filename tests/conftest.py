import jax

import dynagate  # noqa: F401  (enables float64)


def keys(seed: int, n: int):
    """n fixed PRNG keys derived from one seed."""
    return jax.random.split(jax.random.PRNGKey(seed), n)
