"""`generate FOLDER`: each video of a folder into DIR/<name>/, a manifest, a
summary, failures that stop nothing, and restarts that redo only what is
missing (also after SIGKILL)."""

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tests import cli_checks
from vgpnn_jax import cli
from vgpnn_jax import io

_ROOT = pathlib.Path(__file__).resolve().parent.parent
# Tiny and quick: two levels, one iteration, exact search; two outputs.
# The mean fold: folders are what these tests check, and the median fold's
# programs take about twice as long to compile.
_FAST = ['--num', '2', '--search', 'exact', '--patch', '3,5,5', '--levels',
         '2', '--iters', '1', '--reduce', 'mean']
_NAMES = ['contact.png', 'grid.mp4', 'variation_000.mp4', 'variation_001.mp4']


@pytest.fixture(name='cache')
def _cache():
  """The run's compilation cache (tests/conftest.py)."""
  return pathlib.Path(os.environ['VGPNN_JAX_CACHE'])


def _clip(path: pathlib.Path, seed: int, shape=(4, 24, 32)) -> pathlib.Path:
  """A random texture video [T, H, W, 3] written to `path`."""
  rng = np.random.default_rng(seed)
  io.write_video(path, rng.random(shape + (3,)).astype(np.float32), fps=10)
  return path


def _folder(tmp_path: pathlib.Path) -> pathlib.Path:
  """a.mp4, b.mp4 and a corrupt c.mp4, with files a run must ignore."""
  folder = tmp_path / 'clips'
  folder.mkdir()
  _clip(folder / 'a.mp4', 0)
  _clip(folder / 'b.mp4', 1)
  (folder / 'c.mp4').write_text('not a video')
  (folder / 'notes.txt').write_text('not a video either')
  (folder / '.hidden.mp4').write_text('hidden')
  (folder / 'sub').mkdir()  # not recursive
  _clip(folder / 'sub' / 'd.mp4', 2)
  return folder


def _stats(folder: pathlib.Path) -> dict[str, tuple[int, int]]:
  """name -> (inode, mtime in ns) of each file: equal means not rewritten."""
  return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns)
          for p in folder.iterdir()}


def _manifest(out: pathlib.Path) -> dict:
  return json.loads((out / 'manifest.json').read_text())


def _temporaries(out: pathlib.Path) -> list[pathlib.Path]:
  return [p for p in out.rglob('*') if '.tmp' in p.name]


def test_folder_writes_each_input_as_a_single_run_does(tmp_path, capsys):
  folder = _folder(tmp_path)
  out = tmp_path / 'out'
  assert cli.main(['generate', str(folder), '--out', str(out)] +
                  _FAST) == cli.EXIT_SOME_FAILED
  text = capsys.readouterr().out
  assert sorted(p.name for p in out.iterdir()) == ['a', 'b', 'manifest.json']
  for name in ('a', 'b'):
    assert sorted(p.name for p in (out / name).iterdir()) == _NAMES
  # One line per input and no lines per level; the table at the end.
  assert '[1/3] a.mp4: 4 frames of 24x32' in text and 'level  1' not in text
  assert "[3/3] c.mp4: failed: cannot read '" in text
  assert '3 input(s): 2 ok, 0 skipped, 1 failed' in text
  rows = {line.split()[0]: line.split()[1:4] for line in text.splitlines()
          if line.split() and line.split()[0] in ('a.mp4', 'c.mp4')}
  assert rows['a.mp4'][0] == '4' and rows['a.mp4'][2] == 'ok'  # 4 files
  assert rows['c.mp4'][0] == '0' and rows['c.mp4'][2] == 'failed:'

  manifest = _manifest(out)
  assert manifest['options']['num'] == 2 and manifest['options']['seed'] == 0
  entries = manifest['inputs']
  assert [pathlib.Path(e['input']).name for e in entries] == [
      'a.mp4', 'b.mp4', 'c.mp4']
  assert [e['status'] for e in entries] == ['ok', 'ok', 'failed']
  assert entries[0]['outputs'] == ['a/variation_000.mp4',
                                   'a/variation_001.mp4', 'a/grid.mp4',
                                   'a/contact.png']
  assert entries[0]['error'] is None and entries[0]['seconds'] > 0
  assert entries[2]['outputs'] == [] and 'c.mp4' in entries[2]['error']
  assert '\n' not in entries[2]['error']

  # The same files as `generate a.mp4 --out single` (same seed keys).
  single = tmp_path / 'single'
  assert cli.main(['generate', str(folder / 'a.mp4'), '--out', str(single),
                   '--quiet'] + _FAST) == 0
  assert sorted(p.name for p in single.iterdir()) == _NAMES
  for name in _NAMES:
    np.testing.assert_array_equal(io.read_video(single / name)[0],
                                  io.read_video(out / 'a' / name)[0])
    assert cli_checks.digest(single / name) == cli_checks.digest(
        out / 'a' / name)


@pytest.mark.parametrize('case, message', [
    ('empty', 'holds no videos'),
    ('no_media', 'holds no videos'),
    ('out_is_file', 'it is a file, not a folder'),
    ('same_stem', 'would both write to'),
])
def test_bad_folder_input_exits_2_and_writes_nothing(tmp_path, capsys, case,
                                                     message):
  folder = tmp_path / 'clips'
  folder.mkdir()
  out = tmp_path / 'out'
  if case == 'no_media':
    (folder / 'notes.txt').write_text('x')
  elif case in ('out_is_file', 'same_stem'):
    _clip(folder / 'a.mp4', 0)
  if case == 'out_is_file':
    out.write_text('a file')
  if case == 'same_stem':
    _clip(folder / 'a.gif', 0)
  assert cli.main(['generate', str(folder), '--out', str(out)] +
                  _FAST) == cli.EXIT_BAD_INPUT
  cli_checks.assert_refused(capsys.readouterr().err, message)
  if case == 'out_is_file':
    assert out.read_text() == 'a file'
  else:
    assert not out.exists()


def test_restart_skips_complete_inputs_and_writes_missing_files(tmp_path,
                                                                capsys):
  folder = tmp_path / 'clips'
  folder.mkdir()
  _clip(folder / 'a.mp4', 0)
  _clip(folder / 'b.mp4', 1)
  out = tmp_path / 'out'
  command = ['generate', str(folder), '--out', str(out), '--quiet'] + _FAST
  assert cli.main(command) == 0
  # As a killed run leaves them: a file of a missing (and the temporary
  # file of its write), b not started.
  removed = (out / 'a' / 'variation_001.mp4').read_bytes()
  (out / 'a' / 'variation_001.mp4').unlink()
  (out / 'a' / '.variation_001.0123456789ab.tmp.mp4').write_bytes(b'half')
  for path in (out / 'b').iterdir():
    path.unlink()
  kept = _stats(out / 'a')
  capsys.readouterr()
  assert cli.main(command) == 0
  assert 'kept' not in capsys.readouterr().out  # --quiet: the table only
  after = _stats(out / 'a')
  assert sorted(after) == _NAMES and not _temporaries(out)
  assert {n: after[n] for n in kept if n in after} == {
      n: s for n, s in kept.items() if not n.startswith('.')}
  assert (out / 'a' / 'variation_001.mp4').read_bytes() == removed
  assert sorted(p.name for p in (out / 'b').iterdir()) == _NAMES
  assert [e['status'] for e in _manifest(out)['inputs']] == ['ok', 'ok']

  # Complete: nothing is read, generated or written again.
  everything = {name: _stats(out / name) for name in ('a', 'b')}
  assert cli.main(command) == 0
  assert '2 input(s): 0 ok, 2 skipped, 0 failed' in capsys.readouterr().out
  assert {name: _stats(out / name) for name in ('a', 'b')} == everything
  assert [e['status'] for e in _manifest(out)['inputs']] == ['skipped'] * 2
  assert _manifest(out)['inputs'][0]['outputs'] == [
      'a/variation_000.mp4', 'a/variation_001.mp4', 'a/grid.mp4',
      'a/contact.png']

  # Other options would mix outputs of two commands: refused.
  manifest = (out / 'manifest.json').read_text()
  assert cli.main(command + ['--seed', '5']) == cli.EXIT_BAD_INPUT
  cli_checks.assert_refused(capsys.readouterr().err, 'changed: --seed')
  assert (out / 'manifest.json').read_text() == manifest
  assert {name: _stats(out / name) for name in ('a', 'b')} == everything


def test_killed_run_finishes_on_rerun(tmp_path, cache):
  folder = tmp_path / 'clips'
  folder.mkdir()
  # c has a size of its own: it compiles for seconds, so the kill lands
  # before the run ends.
  for seed, (name, shape) in enumerate((('a.mp4', (4, 24, 32)),
                                        ('b.mp4', (4, 24, 32)),
                                        ('c.mp4', (5, 28, 32)))):
    _clip(folder / name, seed, shape)
  out = tmp_path / 'out'
  command = [sys.executable, '-m', 'vgpnn_jax', 'generate', str(folder),
             '--out', str(out), '--quiet'] + _FAST
  env = dict(os.environ, PYTHONPATH=str(_ROOT), JAX_PLATFORMS='cpu',
             VGPNN_JAX_CACHE=str(cache))
  run = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
  try:
    deadline = time.monotonic() + 120
    while not all((out / 'a' / n).exists() for n in _NAMES):
      assert run.poll() is None and time.monotonic() < deadline
      time.sleep(0.02)
    os.kill(run.pid, signal.SIGKILL)
  finally:
    run.kill()
    run.wait()
  assert not all((out / 'c' / n).exists() for n in _NAMES)  # killed midway
  first = _stats(out / 'a')
  rerun = subprocess.run(command, env=env, capture_output=True, text=True,
                         timeout=300)
  assert rerun.returncode == 0, rerun.stderr
  for name in ('a', 'b', 'c'):
    assert sorted(p.name for p in (out / name).iterdir()) == _NAMES
  assert _stats(out / 'a') == first
  assert not _temporaries(out)
  # b: done, partly written or not started when the kill came.
  statuses = [e['status'] for e in _manifest(out)['inputs']]
  assert statuses[0] == 'skipped' and statuses[2] == 'ok'
  assert statuses[1] in ('ok', 'skipped')
  assert '0 failed' in rerun.stdout
  assert io.read_video(out / 'c' / 'variation_001.mp4')[0].shape == (
      5, 28, 32, 3)
