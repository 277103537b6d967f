"""Test settings: strict numerics and several fake CPU devices for sharding."""

import os

# Must be set before JAX starts (DESIGN.md §5).
os.environ.setdefault('XLA_FLAGS', '--xla_force_host_platform_device_count=4')

import jax  # pylint: disable=g-import-not-at-top,wrong-import-position

jax.config.update('jax_numpy_rank_promotion', 'raise')
jax.config.update('jax_numpy_dtype_promotion', 'strict')
