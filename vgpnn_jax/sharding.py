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


# One video over several devices: the query patches of every search are split
# along this mesh axis; keys, values and the video stay whole on each device.
QUERY_AXIS = 'queries'


def query_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
  """A 1-D mesh over `devices` (default: all devices) named 'queries'."""
  devices = jax.devices() if devices is None else list(devices)
  return Mesh(np.asarray(devices), (QUERY_AXIS,))


def spread_queries(mesh: Mesh | None = None):
  """A context in which searches split their query patches over `mesh`.

      with spread_queries():                 # all devices
        out = vgpnn_jax.generate(key, video)

  The result equals one device's (each query's nearest neighbour does not
  depend on which device searched it); the search's working memory and time
  are shared by the devices. Works after `jax.distributed.initialize()` with
  a mesh over every host's devices.

  Args:
    mesh: a mesh with a 'queries' axis; default: all devices.

  Returns:
    A context manager (`jax.set_mesh`).
  """
  mesh = query_mesh() if mesh is None else mesh
  if QUERY_AXIS not in mesh.axis_names:
    raise ValueError(f'the mesh needs a {QUERY_AXIS!r} axis, it has '
                     f'{mesh.axis_names}; build it with query_mesh()')
  return jax.set_mesh(mesh)


def query_devices() -> int:
  """How many devices share the queries here (1 outside `spread_queries`)."""
  mesh = jax.sharding.get_abstract_mesh()
  if mesh.empty or QUERY_AXIS not in mesh.axis_names:
    return 1
  return mesh.shape[QUERY_AXIS]


def round_to_query_devices(count: int) -> int:
  """`count` rounded up to a multiple of `query_devices()`."""
  devices = query_devices()
  return -(-count // devices) * devices


def constrain_queries(x: jax.Array, axis: int = 0) -> jax.Array:
  """`x` split along `axis` over the 'queries' devices (as is outside).

  `x.shape[axis]` must be a multiple of `query_devices()`.
  """
  if query_devices() == 1:
    return x
  spec = (None,) * axis + (QUERY_AXIS,)
  return jax.lax.with_sharding_constraint(x, PartitionSpec(*spec))
