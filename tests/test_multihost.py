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
from tests import cli_checks
from tests import multihost_worker
from vgpnn_jax import cli
from vgpnn_jax import io

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

  def test_generate_hosts_writes_each_file_once_as_one_process_does(self):
    tmp = pathlib.Path(tempfile.mkdtemp())
    video = cli_checks.write_wave_video(tmp)
    fast = ['--search', 'exact', '--patch', '3,5,5', '--levels', '2',
            '--iters', '1', '--reduce', 'mean', '--quiet', '--num', '4',
            '--format', 'png']
    coordinator = f'127.0.0.1:{_free_port()}'
    # 2 faked CPU devices per process; a cache of their own.
    env = dict(os.environ, PYTHONPATH=str(_ROOT),
               XLA_FLAGS='--xla_force_host_platform_device_count=2',
               VGPNN_JAX_CACHE=str(tmp / 'cache'))
    hosts = tmp / 'hosts'
    workers = [subprocess.Popen(
        [sys.executable, '-m', 'vgpnn_jax', 'generate', str(video), '--out',
         str(hosts), '--hosts', f'{coordinator},2,{i}'] + fast,
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        cwd=_ROOT) for i in range(2)]
    logs = [w.communicate(timeout=600)[0] for w in workers]
    for worker, log in zip(workers, logs):
      self.assertEqual(worker.returncode, 0, log[-2000:])
    # Process 0 writes variations 0 and 1 (its two devices) and the grid,
    # process 1 variations 2 and 3.
    self.assertIn('wrote 2 of the 4 variation(s) (variation_000, '
                  'variation_001), grid.mp4', logs[0])
    self.assertIn('wrote 2 of the 4 variation(s) (variation_002, '
                  'variation_003) to', logs[1])
    alone = tmp / 'alone'
    self.assertEqual(cli.main(['generate', str(video), '--out', str(alone)] +
                              fast), 0)
    self.assertEqual(sorted(p.name for p in hosts.iterdir()),
                     sorted(p.name for p in alone.iterdir()))
    for name in (f'variation_{i:03d}' for i in range(4)):
      spread, _ = io.read_video(hosts / name)
      single, _ = io.read_video(alone / name)
      np.testing.assert_allclose(spread, single, atol=1.5 / 255)
    # A --num the devices cannot share: one line, exit 2, nothing written.
    bad = subprocess.run(
        [sys.executable, '-m', 'vgpnn_jax', 'generate', str(video), '--out',
         str(tmp / 'bad'), '--hosts', f'127.0.0.1:{_free_port()},1,0'] +
        fast[:-4] + ['--num', '3'], env=env, capture_output=True, text=True,
        cwd=_ROOT, timeout=300)
    self.assertEqual(bad.returncode, cli.EXIT_BAD_INPUT, bad.stderr)
    self.assertIn('error: --num 3 cannot be split evenly over the 2 devices',
                  bad.stderr)
    self.assertFalse((tmp / 'bad').exists() and any((tmp / 'bad').iterdir()))

  def test_a_coordinator_that_cannot_be_reached_or_opened_is_one_line(self):
    tmp = pathlib.Path(tempfile.mkdtemp())
    video = cli_checks.write_wave_video(tmp)
    env = dict(os.environ, PYTHONPATH=str(_ROOT))

    def generate(hosts):
      return subprocess.run(
          [sys.executable, '-m', 'vgpnn_jax', 'generate', str(video), '--out',
           str(tmp / 'out'), '--hosts', hosts, '--hosts-timeout', '2'],
          env=env, capture_output=True, text=True, cwd=_ROOT, timeout=120)

    # Process 1 with no process 0 listening: JAX alone would abort with a
    # stack trace after its timeout.
    alone = generate(f'127.0.0.1:{_free_port()},2,1')
    self.assertEqual(alone.returncode, cli.EXIT_BAD_INPUT, alone.stderr)
    self.assertIn('nothing answers at 127.0.0.1:', alone.stderr)
    self.assertEqual(len(alone.stderr.strip().splitlines()), 1, alone.stderr)
    # Process 0 on a port another program holds.
    with socket.socket() as busy:
      busy.bind(('127.0.0.1', 0))
      busy.listen()
      taken = generate(f'127.0.0.1:{busy.getsockname()[1]},1,0')
    self.assertEqual(taken.returncode, cli.EXIT_BAD_INPUT, taken.stderr)
    self.assertIn('could not join the other processes', taken.stderr)
    self.assertIn('its port is free', taken.stderr)


if __name__ == '__main__':
  absltest.main()
