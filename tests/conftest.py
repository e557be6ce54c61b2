import jax
import pytest

import dynagate  # noqa: F401  (enables float64)

# Strict dtype promotion for the whole suite (as the diffrax and equinox test suites do): an implicit
# promotion between arrays of different dtypes (float32 + float64, an int array times a float) raises
# instead of silently choosing a precision; Python scalars stay weakly typed. The library makes such casts
# explicitly where they are meant.
jax.config.update("jax_numpy_dtype_promotion", "strict")


def keys(seed: int, n: int):
    """n fixed PRNG keys derived from one seed."""
    return jax.random.split(jax.random.PRNGKey(seed), n)


@pytest.fixture
def key():
    """A fixed PRNG key (``PRNGKey(0)``): a test that takes it is reproducible and says so."""
    return jax.random.PRNGKey(0)
