"""A batch over two processes (`jax.distributed` on loopback, gloo)."""

import os
import pathlib
import socket
import subprocess
import sys
import tempfile

from absl.testing import absltest
import jax
import numpy as np

import vgpnn_jax
from tests import multihost_worker

_WORKER = pathlib.Path(multihost_worker.__file__)
_ROOT = _WORKER.parent.parent


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]


class MultiHostTest(absltest.TestCase):

  def test_two_processes_write_what_one_process_makes(self):
    out = pathlib.Path(tempfile.mkdtemp())
    coordinator = f'127.0.0.1:{_free_port()}'
    env = dict(os.environ, PYTHONPATH=str(_ROOT))
    workers = [subprocess.Popen(
        [sys.executable, str(_WORKER), coordinator, str(i), '2', str(out)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
               for i in range(2)]
    logs = [w.communicate(timeout=300)[0] for w in workers]
    for worker, log in zip(workers, logs):
      self.assertEqual(worker.returncode, 0, log[-2000:])
    # Each process wrote only its own share: every index once, none twice.
    self.assertEqual(sorted(p.name for p in out.iterdir()),
                     [f'{i}.npy' for i in range(multihost_worker.NUM)])
    keys = jax.random.split(jax.random.key(7), multihost_worker.NUM)
    alone = vgpnn_jax.generate_batch(
        keys, multihost_worker.sample_video(),
        vgpnn_jax.make_config(**multihost_worker.CONFIG))
    for i in range(multihost_worker.NUM):
      np.testing.assert_allclose(np.load(out / f'{i}.npy'), alone[i],
                                 atol=1e-6)


if __name__ == '__main__':
  absltest.main()
