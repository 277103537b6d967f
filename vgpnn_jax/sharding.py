"""Spreading a batch of variations over devices with `jax.sharding`.

`generate_batch` maps over keys; placing the keys on a mesh along the batch
axis makes every level step run its share of the batch on each device (the
input pyramid is replicated). The same code runs on one CPU, several GPUs or
TPU cores, or several hosts after `jax.distributed.initialize()`.

    keys = shard_keys(jax.random.split(jax.random.key(0), 8))
    outs = vgpnn_jax.generate_batch(keys, video)   # sharded over devices
"""

import contextlib
import socket
import time
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
  target = NamedSharding(mesh, PartitionSpec(BATCH_AXIS))
  if target.is_fully_addressable:
    return jax.device_put(keys, target)
  # Several hosts (`jax.distributed.initialize()`): every process holds the
  # same keys and places its own share of them.
  data = np.asarray(jax.random.key_data(keys))
  shared = jax.make_array_from_callback(data.shape, target,
                                        lambda index: data[index])
  return jax.random.wrap_key_data(shared, impl=jax.random.key_impl(keys))


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


def constrain_batch(tree):
  """Every array of `tree` split along its axis 0 over the 'batch' devices.

  Applied to the inputs and outputs of the batched level programs, so that
  each device computes its share of the variations rather than all of them
  (left alone: XLA replicated the whole batch). As is outside a mesh with a
  'batch' axis, and for arrays whose axis 0 does not divide evenly.
  """
  mesh = jax.sharding.get_abstract_mesh()
  if mesh.empty or BATCH_AXIS not in mesh.axis_names:
    return tree
  size = mesh.shape[BATCH_AXIS]

  def constrain(x):
    if not hasattr(x, 'ndim') or x.ndim == 0 or x.shape[0] % size:
      return x
    return jax.lax.with_sharding_constraint(x, PartitionSpec(BATCH_AXIS))

  return jax.tree.map(constrain, tree)


def batch_is_split() -> bool:
  """Whether the function being traced runs under a 'batch' mesh of several
  devices (`batch_mesh_of`): its batch axis is split over them."""
  mesh = jax.sharding.get_abstract_mesh()
  return (not mesh.empty and BATCH_AXIS in mesh.axis_names and
          mesh.shape[BATCH_AXIS] > 1)


def loop_over_batch(fn):
  """`fn` that `vmap` batches by a loop, except over a split batch.

  Like `jax.custom_batching.sequential_vmap`: under `vmap`, `fn` runs once
  per member of the batch (`lax.map`; the unbatched arguments passed whole),
  as it runs alone. For data-dependent loops, where `vmap` runs every member
  as long as the slowest and selects whole arrays each round, and for
  products whose rounding `vmap` would make depend on the batch size. Under
  a 'batch' mesh of several devices (`batch_is_split`) it is batched by
  `vmap`: a loop over the split axis would gather the whole batch on every
  device, and each device would run all of it.

  Args:
    fn: a function of arrays (pytrees of arrays) returning arrays.

  Returns:
    `fn`, with that batching rule.
  """
  looped = jax.custom_batching.custom_vmap(fn)

  @looped.def_vmap
  def rule(axis_size, in_batched, *args):
    del axis_size
    leaves, tree = jax.tree.flatten(args)
    batched = jax.tree.leaves(in_batched)
    if batch_is_split():
      axes = jax.tree.unflatten(tree, [0 if b else None for b in batched])
      out = jax.vmap(fn, in_axes=tuple(axes))(*args)
    else:
      def one(mapped):
        mapped = iter(mapped)
        member = [next(mapped) if b else x for x, b in zip(leaves, batched)]
        return looped(*jax.tree.unflatten(tree, member))

      out = jax.lax.map(one, [x for x, b in zip(leaves, batched) if b])
    return out, jax.tree.map(lambda _: True, out)

  return looped


def batch_mesh_of(keys: jax.Array):
  """The context in which a batch over `keys` runs: their mesh, if split.

  `jax.set_mesh` of the mesh `shard_keys` put the keys on (so that the level
  programs keep the batch split, `constrain_batch`), else a null context.
  """
  spec = getattr(keys.sharding, 'spec', None)
  if isinstance(keys, jax.core.Tracer) or not spec or spec[0] != BATCH_AXIS:
    return contextlib.nullcontext()
  return jax.set_mesh(keys.sharding.mesh)


def batch_split(fn, batched_args: Sequence[int],
                batched_outputs: Sequence[int] | None = None):
  """`fn` with its batched arguments and outputs kept split over 'batch'.

  Only what is mapped over the batch is constrained (`constrain_batch`): the
  shared arrays (keys and values videos) stay whole on every device.

  Args:
    fn: a vmapped function.
    batched_args: the positions of its arguments mapped over the batch.
    batched_outputs: the positions in its output tuple that are batched;
      None: the whole output is.
  """

  def split(*args):
    args = [constrain_batch(x) if i in batched_args else x
            for i, x in enumerate(args)]
    out = fn(*args)
    if batched_outputs is None:
      return constrain_batch(out)
    return tuple(constrain_batch(x) if i in batched_outputs else x
                 for i, x in enumerate(out))

  return split


def _owners(sharding: jax.sharding.Sharding,
            shape: tuple[int, ...]) -> dict[int, int]:
  """{batch index: the process that writes it} for an array of `shape`
  placed with `sharding`: the one whose device holds it, where it is
  replicated the lowest process index."""
  owners = {}
  for device, index in sharding.devices_indices_map(shape).items():
    for i in range(shape[0])[index[0]]:
      owners[i] = min(owners.get(i, device.process_index),
                      device.process_index)
  return owners


def owned_indices(num: int, mesh: Mesh | None = None) -> list[int]:
  """The indexes of a batch of `num` placed by `shard_keys(..., mesh)` that
  this process writes (as `own_share`, before the batch is made).

  Args:
    num: the batch size.
    mesh: a mesh with a 'batch' axis; default: all devices.

  Returns:
    Sorted indexes in [0, num).
  """
  mesh = batch_mesh() if mesh is None else mesh
  owners = _owners(NamedSharding(mesh, PartitionSpec(BATCH_AXIS)), (num,))
  return sorted(i for i, owner in owners.items()
                if owner == jax.process_index())


def own_share(outputs: jax.Array) -> dict[int, np.ndarray]:
  """The variations of a batch that this process writes, by batch index.

  After `jax.distributed.initialize()` every process runs the same batch and
  holds only the shards on its own devices; each index is owned by exactly
  one process (the one holding it; where it is replicated, the lowest
  process index), so that no two processes write the same file.

  Args:
    outputs: [N, ...] a batch, e.g. from `generate_batch(shard_keys(keys),
      ...)`.

  Returns:
    {index: [...] NumPy array} for the indexes this process owns.
  """
  owners = _owners(outputs.sharding, outputs.shape)
  share = {}
  for shard in outputs.addressable_shards:
    for offset, i in enumerate(range(outputs.shape[0])[shard.index[0]]):
      if owners[i] == jax.process_index() and i not in share:
        share[i] = np.asarray(shard.data[offset])
  return share


def join_hosts(coordinator: str | None = None,
               num_processes: int | None = None,
               process_id: int | None = None,
               timeout_s: float = 300.0) -> None:
  """Joins this process to a run over several hosts (`jax.distributed`).

  Call it first, before any other JAX call, in every process (one per host,
  each with its own `process_id` in [0, num_processes)); with no arguments
  JAX detects the cluster where it can (Cloud TPU, SLURM). On CPUs the
  processes talk through gloo.

  Args:
    coordinator: 'host:port' of process 0, which every process can reach.
    num_processes: how many processes take part.
    process_id: this process's index.
    timeout_s: how long to wait for process 0 to answer and for every
      process to join.

  Raises:
    RuntimeError: process 0 does not answer at `coordinator` within
      `timeout_s` (the other processes), or its port cannot be opened.
      Processes that never join are not an exception: JAX ends the waiting
      processes after `timeout_s` with its own log.
  """
  jax.config.update('jax_cpu_collectives_implementation', 'gloo')
  if coordinator is None:
    jax.distributed.initialize()
    return
  deadline = time.monotonic() + timeout_s
  if process_id:
    # JAX aborts the whole process (a C++ check, no exception) when the
    # coordinator never answers: wait for it here, where it can be said.
    _wait_for_coordinator(coordinator, deadline)
  else:
    _check_port_free(coordinator)
  remaining = max(int(deadline - time.monotonic()), 1)
  try:
    jax.distributed.initialize(coordinator, num_processes=num_processes,
                               process_id=process_id,
                               initialization_timeout=remaining)
  except RuntimeError:
    jax.distributed.shutdown()  # a half-made client crashes at exit
    raise


def _check_port_free(coordinator: str) -> None:
  """RuntimeError when the coordinator's port is taken on this machine."""
  port = int(coordinator.rsplit(':', 1)[1])
  with socket.socket() as probe:
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
      probe.bind(('', port))
    except OSError as e:
      raise RuntimeError(f'port {port} cannot be opened here ({e})') from None


def _wait_for_coordinator(coordinator: str, deadline: float) -> None:
  """Returns once something listens at 'host:port', RuntimeError at deadline."""
  host, port = coordinator.rsplit(':', 1)
  while True:
    try:
      socket.create_connection((host.strip('[]'), int(port)), timeout=5).close()
      return
    except OSError as e:
      if time.monotonic() >= deadline:
        raise RuntimeError(f'nothing answers at {coordinator} ({e})') from None
      time.sleep(0.5)


def gather(outputs: jax.Array) -> np.ndarray:
  """The whole of a batch sharded over hosts, as NumPy, in every process.

  Args:
    outputs: [N, ...] e.g. from `generate_batch(shard_keys(keys), ...)`.

  Returns:
    [N, ...] NumPy array (a collective: every process must call it).
  """
  if outputs.is_fully_addressable:
    return np.asarray(jax.device_get(outputs))
  from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top
  return np.asarray(multihost_utils.process_allgather(outputs, tiled=True))
