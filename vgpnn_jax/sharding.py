"""Spreading a batch of variations over devices with `jax.sharding`.

`generate_batch` maps over keys; placing the keys on a mesh along the batch
axis makes every level step run its share of the batch on each device (the
input pyramid is replicated). The same code runs on one CPU, several GPUs or
TPU cores, or several hosts after `jax.distributed.initialize()`.

    keys = shard_keys(jax.random.split(jax.random.key(0), 8))
    outs = vgpnn_jax.generate_batch(keys, video)   # sharded over devices
"""

from typing import Sequence

import jax
import numpy as np
from jax.sharding import Mesh
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec

BATCH_AXIS = 'batch'


def batch_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
  """A 1-D mesh over `devices` (default: all devices) named 'batch'."""
  devices = jax.devices() if devices is None else list(devices)
  return Mesh(np.asarray(devices), (BATCH_AXIS,))


def shard_keys(keys: jax.Array, mesh: Mesh | None = None) -> jax.Array:
  """Places `keys` [N] on `mesh`, split along N (N must divide evenly).

  Args:
    keys: [N] PRNG keys.
    mesh: a mesh with a 'batch' axis; default: all devices.

  Returns:
    [N] the same keys, sharded so that each device holds N / num_devices.
  """
  mesh = batch_mesh() if mesh is None else mesh
  size = mesh.shape[BATCH_AXIS]
  if keys.shape[0] % size:
    raise ValueError(f'{keys.shape[0]} keys cannot be split evenly over '
                     f'{size} devices; ask for a multiple of {size} outputs')
  return jax.device_put(keys, NamedSharding(mesh, PartitionSpec(BATCH_AXIS)))
