"""One process of tests/test_multihost.py: its share of a sharded batch.

    python tests/multihost_worker.py COORDINATOR PROCESS_ID NUM_PROCESSES OUT

Runs `generate_batch` over keys split across every process's (2 faked CPU)
devices and saves the variations this process owns as OUT/<index>.npy.
"""

import os
import pathlib
import sys

import jax
import numpy as np

import vgpnn_jax
from vgpnn_jax import sharding

# Shared with the test, which makes the same batch in one process (the mean
# fold: its programs compile in half the median's time).
CONFIG = dict(patch_size=(3, 5, 5), min_side=10, max_levels=2, num_iters=1,
              search='exact', noise_std=5.0, noise_unit='value',
              reduce='mean')
NUM = 4


def sample_video() -> np.ndarray:
  """[4, 14, 16, 3] float32 uniform noise."""
  return np.random.default_rng(0).uniform(size=(4, 14, 16, 3)).astype(
      np.float32)


def main(coordinator: str, process_id: int, num_processes: int,
         out: pathlib.Path) -> None:
  # XLA:CPU talks between processes through gloo.
  jax.config.update('jax_cpu_collectives_implementation', 'gloo')
  jax.distributed.initialize(coordinator, num_processes=num_processes,
                             process_id=process_id)
  keys = sharding.shard_keys(jax.random.split(jax.random.key(7), NUM))
  outputs = vgpnn_jax.generate_batch(keys, sample_video(),
                                     vgpnn_jax.make_config(**CONFIG))
  for index, variation in sharding.own_share(outputs).items():
    np.save(out / f'{index}.npy', variation)
  jax.distributed.shutdown()


if __name__ == '__main__':
  # Read when the backend starts (first use), so set here and not at import:
  # the test imports this module into a process with 4 devices.
  os.environ['XLA_FLAGS'] = '--xla_force_host_platform_device_count=2'
  main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]),
       pathlib.Path(sys.argv[4]))
