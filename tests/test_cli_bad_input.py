"""Bad input through the command line: one line and exit 2, no folder or file
left behind, inputs never written to; and what --overwrite, --seed and
SIGTERM do.

`cli.main` runs in this process, its file descriptors captured (ffmpeg's
lines included): a child process per case cost 2-3 s of starting JAX each
(this file: 129 s). A few cases also run as `python -m vgpnn_jax` in a
child, as do the signal tests.
"""

import os
import pathlib
import signal
import subprocess
import sys
import time
from typing import NamedTuple

import numpy as np
import pytest

from tests import cli_checks
from vgpnn_jax import cli
from vgpnn_jax import io

_ROOT = pathlib.Path(__file__).resolve().parent.parent
# Tiny and quick: 4x24x24 videos, two levels, one iteration, exact search.
_FAST = ['--search', 'exact', '--patch', '3,5,5', '--iters', '1', '--quiet',
         '--max-size', '32']


def _env(tmp_path):
  return dict(os.environ, PYTHONPATH=str(_ROOT), JAX_PLATFORMS='cpu',
              VGPNN_JAX_CACHE=os.environ.get('VGPNN_JAX_CACHE',
                                             str(tmp_path / 'cache')))


def _child_cli(tmp_path, args):
  """Runs `python -m vgpnn_jax ARGS` in `tmp_path`; the finished process."""
  return subprocess.run([sys.executable, '-m', 'vgpnn_jax'] + list(args),
                        cwd=tmp_path, env=_env(tmp_path), capture_output=True,
                        text=True, timeout=300)


class _Done(NamedTuple):
  """What a command line run left: as `subprocess.CompletedProcess`."""
  returncode: int
  stdout: str
  stderr: str


@pytest.fixture(name='cli_run')
def _cli_run(capfd, monkeypatch):
  """`run(folder, args)`: `cli.main(args)` in `folder`, its output captured."""
  def run(folder, args):
    monkeypatch.chdir(folder)
    capfd.readouterr()
    status = cli.main(list(args))
    out, err = capfd.readouterr()
    return _Done(status, out, err)
  return run


def _video(frames=4, size=24):
  t = np.linspace(0, 1, frames)[:, None, None, None]
  y = np.linspace(0, 1, size)[None, :, None, None]
  x = np.linspace(0, 1, size)[None, None, :, None]
  video = 0.5 + 0.4 * np.sin(8 * x + 5 * y + 2 * t + np.array([0, 1, 2]))
  return video.astype(np.float32)


@pytest.fixture(name='files')
def _files(tmp_path):
  """Inputs in `tmp_path`: clip.mp4, image.png, audio.mp4, mask.png, ..."""
  video = _video()
  io.write_video(tmp_path / 'clip.mp4', video, fps=10)
  io.write_video(tmp_path / 'image.png', video[:1], fps=1)
  mask = np.zeros((1, 24, 24, 3), np.float32)
  mask[:, 8:16, 8:16] = 1
  io.write_video(tmp_path / 'mask.png', mask, fps=1)
  # An .mp4 with a sound track and no video.
  import imageio_ffmpeg  # pylint: disable=g-import-not-at-top
  subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), '-y', '-f', 'lavfi', '-i',
                  'sine=frequency=440:duration=1', '-c:a', 'aac',
                  str(tmp_path / 'audio.mp4')], capture_output=True,
                 check=True)
  (tmp_path / 'afile').write_text('x')
  # Outputs of an earlier run, and a copy of the input named as one.
  (tmp_path / 'old').mkdir()
  for name in ('variation_000.mp4', 'inpaint_000.mp4', 'edit_000.mp4',
               'analogy_000.mp4', 'sketch_000.mp4'):
    (tmp_path / 'old' / name).write_bytes(b'an earlier output')
  (tmp_path / 'same').mkdir()
  io.write_video(tmp_path / 'same' / 'variation_000.mp4', video, fps=10)
  io.write_video(tmp_path / 'same' / 'sketch.mp4', video, fps=10)
  return tmp_path


_NOT_A_FLAG = 'noise_std'  # library names must not reach CLI messages

_CASES = [
    # Tracebacks (exit 1) before.
    (['generate', 'clip.mp4', '--scale', 'nan,1,1'], '--scale'),
    (['generate', 'clip.mp4', '--scale', '1,1,inf'], '--scale'),
    (['generate', 'clip.mp4', '--levels', '0'], '--levels must be at least 1'),
    (['generate', 'clip.mp4', '--levels', '-1'], '--levels must be at least 1'),
    (['evaluate', 'clip.mp4', 'clip.mp4', '--max-patches', '-5'],
     '--max-patches must be >= 0'),
    # Silent wrong results before.
    (['generate', 'clip.mp4', '--noise', 'nan'], '--noise must be a number'),
    (['generate', 'clip.mp4', '--noise', 'inf'], '--noise must be a number'),
    (['generate', 'clip.mp4', '--noise', '1e30'], 'from 0 to 1000'),
    (['inpaint', 'clip.mp4', '--mask', 'mask.png', '--noise', 'nan'],
     '--noise must be a number'),
    (['generate', 'clip.mp4', '--seed', '-1'], '--seed must be >= 0'),
    (['evaluate', 'clip.mp4', 'clip.mp4', '--seed', '-1'],
     '--seed must be >= 0'),
    # Unclear messages before.
    (['generate', 'clip.mp4', '--noise', '-1'], '--noise must be a number'),
    (['evaluate', 'image.png', 'clip.mp4'], 'at least 3 frames'),
    (['generate', 'audio.mp4'], 'has no video stream (only audio)'),
    # An output that exists, or that is an input.
    (['generate', 'clip.mp4', '--out', 'old', '--levels', '2'],
     "'old/variation_000.mp4' already exists; pass --overwrite"),
    (['inpaint', 'clip.mp4', '--mask', 'mask.png', '--out', 'old', '--level',
      '2'], "'old/inpaint_000.mp4' already exists"),
    (['edit', 'clip.mp4', 'clip.mp4', '--out', 'old', '--level', '2'],
     "'old/edit_000.mp4' already exists"),
    (['analogy', 'clip.mp4', 'clip.mp4', '--out', 'old', '--level', '2'],
     "'old/analogy_000.mp4' already exists"),
    (['sketch', 'clip.mp4', 'clip.mp4', '--out', 'old', '--level', '2'],
     "'old/sketch_000.mp4' already exists"),
    (['make-sketch', '--disc', '4x24x24', '--out', 'old/sketch_000.mp4'],
     'already exists; pass --overwrite'),
    (['generate', 'same/variation_000.mp4', '--out', 'same', '--levels', '2'],
     'would replace the input'),
    (['generate', 'same/variation_000.mp4', '--out', 'same', '--levels', '2',
      '--overwrite'], 'would replace the input'),
    (['make-sketch', 'same/sketch.mp4', '--out', 'same/sketch.mp4',
      '--overwrite'], 'would replace the input'),
    # Refused before generating, with no output folder left behind.
    (['generate', 'missing.mp4'], 'file not found'),
    (['generate', 'clip.mp4', '--patch', '3,25,25'], 'smaller than the'),
    (['generate', 'clip.mp4', '--out', 'afile/sub'], 'cannot write'),
]


# Also refused by `python -m vgpnn_jax` in a child process: a bad flag, a
# file ffmpeg cannot read, an output that exists.
_IN_A_CHILD = ('generate clip.mp4 --noise nan', 'generate audio.mp4',
               'generate clip.mp4 --out old --levels 2')


@pytest.mark.parametrize('args, message', _CASES,
                         ids=[' '.join(a) for a, _ in _CASES])
def test_refused_with_one_line(files, cli_run, args, message):
  inputs = {p: cli_checks.digest(p) for p in files.rglob('*') if p.is_file()}
  in_a_child = ' '.join(args) in _IN_A_CHILD
  if '--out' not in args and args[0] != 'evaluate':
    args = args + ['--out', 'new/out']
  fast = args[0] not in ('evaluate', 'make-sketch')
  args = args[:1] + _FAST * fast + args[1:]
  done = (_child_cli if in_a_child else cli_run)(files, args)
  assert done.returncode == 2, done.stderr
  cli_checks.assert_refused(done.stderr, message)
  assert _NOT_A_FLAG not in done.stderr
  assert ' time=' not in done.stderr  # no ffmpeg progress line
  assert not (files / 'new').exists()  # no empty --out folder
  # Nothing written or removed: every file is as it was, no new file.
  assert {p: cli_checks.digest(p) for p in files.rglob('*')
          if p.is_file() and 'cache' not in p.parts} == {
              p: d for p, d in inputs.items() if 'cache' not in p.parts}


def test_overwrite_replaces_and_removes_only_stale_outputs(files, cli_run):
  out = files / 'out'
  first = cli_run(files, ['generate', 'clip.mp4', '--out', 'out', '--num',
                          '3'] + _FAST + ['--levels', '2'])
  assert first.returncode == 0, first.stderr
  before = cli_checks.digest(out / 'variation_000.mp4')
  # Files that only look like outputs, and an input named as one.
  for name in ('variation_0004.mp4', 'variation_005.txt', 'notes.mp4',
               'inpaint_003.mp4', 'variation_9.mp4'):
    (out / name).write_bytes(b'not ours')
  io.write_video(out / 'variation_007.gif', _video(), fps=10)
  source = cli_checks.digest(out / 'variation_007.gif')
  again = cli_run(files, ['generate', 'out/variation_007.gif', '--out', 'out',
                          '--num', '1', '--noise', '1'] + _FAST +
                  ['--levels', '2'])
  assert again.returncode == 2 and 'already exists' in again.stderr
  again = cli_run(files, ['generate', 'out/variation_007.gif', '--out', 'out',
                          '--num', '1', '--noise', '1', '--overwrite'] +
                  _FAST + ['--levels', '2'])
  assert again.returncode == 0, again.stderr
  assert 'removed 2 stale output(s)' in again.stdout
  assert sorted(p.name for p in out.iterdir()) == [
      'contact.png', 'grid.mp4', 'inpaint_003.mp4', 'notes.mp4', 'variation_000.mp4',
      'variation_0004.mp4', 'variation_005.txt', 'variation_007.gif',
      'variation_9.mp4']
  assert cli_checks.digest(out / 'variation_000.mp4') != before  # replaced
  assert cli_checks.digest(out / 'variation_007.gif') == source  # an input


def _first_output(cli_run, tmp_path, seed, run=0):
  out = f'seed_{seed}_{run}'
  done = cli_run(tmp_path, ['generate', 'clip.mp4', '--out', out, '--num',
                            '1', '--seed', str(seed), '--noise', '1'] +
                 _FAST + ['--levels', '2', '--format', 'gif'])
  assert done.returncode == 0, done.stderr
  return io.read_video(tmp_path / out / 'variation_000.gif')[0]


def test_seeds_beyond_32_bits_are_distinct(files, cli_run):
  zero = _first_output(cli_run, files, 0)
  np.testing.assert_array_equal(zero, _first_output(cli_run, files, 0, run=1))
  for seed in (2**32, 2**63, 2**64 + 1):  # 2**32 gave seed 0's output
    output = _first_output(cli_run, files, seed)
    assert np.abs(output - zero).max() > 0.05, seed


def test_evaluate_warns_of_outputs_of_another_size(files, cli_run):
  big = files / 'big.mp4'
  io.write_video(big, np.repeat(np.repeat(_video(), 3, 1), 3, 2), fps=10)
  done = cli_run(files, ['evaluate', 'big.mp4', 'clip.mp4', '--max-patches',
                      '200'])
  assert done.returncode == 0, done.stderr
  lines = [l for l in done.stderr.splitlines() if l.startswith('warning: ')]
  assert len(lines) == 1, done.stderr
  assert '4x24x24' in lines[0] and '4x72x72' in lines[0]
  assert 'not comparable' in lines[0] and '--max-size 24' in lines[0]
  same = cli_run(files, ['evaluate', 'clip.mp4', 'clip.mp4', '--max-patches',
                      '200'])
  assert same.returncode == 0 and 'warning' not in same.stderr


def test_folder_with_a_gap_in_its_numbering_warns(files, cli_run):
  folder = files / 'frames'
  folder.mkdir()
  video = _video(5)
  for index, number in enumerate((1, 2, 3, 6, 7)):
    io.write_video(folder / f'frame_{number}.png', video[index:index + 1],
                   fps=1)
  done = cli_run(files, ['make-sketch', 'frames', '--out', 'sketch.gif'])
  assert done.returncode == 0, done.stderr
  assert done.stderr.count('warning: ') == 1, done.stderr
  assert 'no frame 4-5 between 1 and 7' in done.stderr


# Child: make-sketch that stops for a minute once its temporary file is
# written, before renaming it into place: SIGTERM arrives mid-write.
# The child starts with the signals a shell would give it (default SIGINT,
# nothing blocked), whatever this test process inherited or blocked: once in
# a whole run (not reproduced alone) the SIGINT case waited out its minute.
_SLOW_WRITER = """
import os, signal, sys, time
signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
signal.signal(signal.SIGINT, signal.default_int_handler)
from vgpnn_jax import cli
replace = os.replace
def slow_replace(source, target):
  if '.tmp.' in str(source):
    print('writing', flush=True)
    time.sleep(60)
  replace(source, target)
os.replace = slow_replace
sys.exit(cli.main(sys.argv[1:]))
"""


@pytest.mark.parametrize('signum, status', [(signal.SIGTERM, 143),
                                            (signal.SIGINT, 130)])
def test_signal_during_a_write_leaves_no_partial_file(tmp_path, signum,
                                                      status):
  (tmp_path / 'out').mkdir()
  child = subprocess.Popen(
      [sys.executable, '-c', _SLOW_WRITER, 'make-sketch', '--disc',
       '4x24x24', '--out', 'out/disc.mp4'], cwd=tmp_path, env=_env(tmp_path),
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  try:
    assert child.stdout.readline().strip() == 'writing'
    assert list((tmp_path / 'out').glob('.*.tmp.*'))  # mid-write
    time.sleep(0.2)
    child.send_signal(signum)
    _, err = child.communicate(timeout=60)
  finally:
    child.kill()
  assert child.returncode == status, err
  assert list((tmp_path / 'out').iterdir()) == []  # no temporary, no output
