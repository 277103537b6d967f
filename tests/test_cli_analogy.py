"""Tests of the `analogy`, `sketch` and `make-sketch` subcommands, in-process
on tiny videos."""

import pathlib

import numpy as np
import pytest

from tests import cli_checks
from vgpnn_jax import cli
from vgpnn_jax import io
from vgpnn_jax import sketches

_FAST = ['--search', 'exact', '--patch', '3,5,5', '--level', '2', '--quiet']
_FAST_IMAGES = ['--search', 'exact', '--patch', '1,5,5', '--level', '2',
                '--quiet']


def _video(frames=6, height=24, width=32, freqs=(9, 6, 2), mean=0.55,
           amplitude=0.35):
  t = np.linspace(0, 1, frames)[:, None, None, None]
  y = np.linspace(0, 1, height)[None, :, None, None]
  x = np.linspace(0, 1, width)[None, None, :, None]
  video = mean + amplitude * np.sin(freqs[0] * x + freqs[1] * y +
                                    freqs[2] * t + np.array([0, 1, 2]))
  return video.astype(np.float32)


@pytest.fixture(name='paths')
def _paths(tmp_path):
  """Inputs: a bright structure, a dark appearance of another pattern."""
  folder = tmp_path / 'inputs'
  paths = {name: folder / name for name in (
      'structure.mp4', 'appearance.mp4', 'other.mp4', 'structure.png',
      'appearance.png', 'flat.mp4', 'short.mp4', 'corrupt.mp4')}
  dark = dict(freqs=(4, 11, 5), mean=0.25, amplitude=0.15)
  io.write_video(paths['structure.mp4'], _video(), fps=10)
  io.write_video(paths['appearance.mp4'], _video(**dark), fps=10)
  # Another length and height (and aspect): resized to 24x38, 8 frames.
  io.write_video(paths['other.mp4'], _video(8, 30, 48, **dark), fps=10)
  io.write_video(paths['structure.png'], _video()[:1], fps=1)
  io.write_video(paths['appearance.png'], _video(**dark)[:1], fps=1)
  io.write_video(paths['flat.mp4'], np.full((6, 24, 32, 3), 0.4, np.float32),
                 fps=10)
  io.write_video(paths['short.mp4'], _video(2), fps=10)
  paths['corrupt.mp4'].write_text('this is not a video\n')
  return {name.replace('.', '_'): path for name, path in paths.items()}


def _digests(folder: pathlib.Path) -> dict[str, str]:
  return {p.name: cli_checks.digest(p) for p in sorted(folder.iterdir())}


def test_analogy_writes_results_and_grid_reproducibly(tmp_path, paths,
                                                      capsys):
  before = _digests(paths['structure_mp4'].parent)
  out = tmp_path / 'out'
  args = ['analogy', str(paths['structure_mp4']), str(paths['appearance_mp4']),
          '--num', '2', '--seed', '0'] + _FAST
  assert cli.main(args + ['--out', str(out)]) == 0
  assert sorted(p.name for p in out.iterdir()) == [
      'analogy_000.mp4', 'analogy_001.mp4', 'contact.png', 'grid.mp4']
  summary = capsys.readouterr().out.strip().splitlines()
  assert len(summary) == 1  # --quiet: the summary only
  assert 'wrote 2 output(s)' in summary[0]
  assert str(out / 'grid.mp4') in summary[0]
  structure, _ = io.read_video(paths['structure_mp4'])
  appearance, _ = io.read_video(paths['appearance_mp4'])
  for name in ('analogy_000.mp4', 'analogy_001.mp4'):
    result, fps = io.read_video(out / name)
    assert result.shape == structure.shape and fps == 10
    # Made of the (dark) appearance's patches, not the (bright) structure.
    mean = result.mean((0, 1, 2))
    assert np.abs(mean - appearance.mean((0, 1, 2))).max() < 0.1
    assert np.abs(mean - structure.mean((0, 1, 2))).min() > 0.15
  grid, _ = io.read_video(out / 'grid.mp4')
  assert grid.shape[0] == 6 and grid.shape[2] > 4 * 32
  # The same seed again: the same files.
  again = tmp_path / 'again'
  assert cli.main(args + ['--out', str(again)]) == 0
  assert _digests(again) == _digests(out)
  assert _digests(paths['structure_mp4'].parent) == before


def test_another_size_of_appearance_is_noted_and_fitted(tmp_path, paths,
                                                        capsys):
  out = tmp_path / 'out'
  fast = [a for a in _FAST if a != '--quiet']
  assert cli.main(['analogy', str(paths['structure_mp4']),
                   str(paths['other_mp4']), '--out', str(out)] + fast) == 0
  result, _ = io.read_video(out / 'analogy_000.mp4')
  assert result.shape == (6, 24, 32, 3)
  notes = [line for line in capsys.readouterr().out.splitlines()
           if line.startswith('note:')]
  assert any('resized' in line and '30x48' in line and '24x38' in line
             for line in notes), notes
  assert any("structure's size" in line and '6 frames of 24x32' in line
             for line in notes), notes


def test_two_images_write_pngs(tmp_path, paths):
  out = tmp_path / 'out'
  assert cli.main(['analogy', str(paths['structure_png']),
                   str(paths['appearance_png']), '--out', str(out)] +
                  _FAST_IMAGES) == 0
  assert sorted(p.name for p in out.iterdir()) == ['analogy_000.png',
                                                   'grid.png']
  result, _ = io.read_video(out / 'analogy_000.png')
  assert result.shape == (1, 24, 32, 3)


def test_make_sketch_of_a_disc_and_render_it(tmp_path, paths, capsys):
  drawing_path = tmp_path / 'disc.mp4'
  assert cli.main(['make-sketch', '--disc', '6x24x32', '--out',
                   str(drawing_path)]) == 0
  assert str(drawing_path) in capsys.readouterr().out
  drawing, _ = io.read_video(drawing_path)
  assert drawing.shape == (6, 24, 32, 3)
  # Three flat colours (up to the codec, at the edges).
  colours = np.array([sketches.SKY, sketches.GROUND, sketches.DISC])
  distance = np.abs(drawing[..., None, :] - colours).max(-1)  # [..., 3]
  assert (distance.min(-1) < 0.06).mean() > 0.9
  assert ((distance < 0.06).mean((0, 1, 2)) > 0.01).all()  # each colour used
  out = tmp_path / 'out'
  assert cli.main(['sketch', str(drawing_path), str(paths['appearance_mp4']),
                   '--out', str(out)] + _FAST) == 0
  assert sorted(p.name for p in out.iterdir()) == ['contact.png', 'grid.mp4',
                                                   'sketch_000.mp4']
  result, _ = io.read_video(out / 'sketch_000.mp4')
  assert result.shape == (6, 24, 32, 3)


def test_make_sketch_of_a_video_and_render_it(tmp_path, paths, capsys):
  before = cli_checks.digest(paths['structure_mp4'])
  drawing_path = tmp_path / 'drawing.gif'  # lossless for a few colours
  assert cli.main(['make-sketch', str(paths['structure_mp4']), '--colours',
                   '3', '--out', str(drawing_path)]) == 0
  assert cli_checks.digest(paths['structure_mp4']) == before
  drawing, _ = io.read_video(drawing_path)
  assert drawing.shape == (6, 24, 32, 3)
  assert 2 <= len(np.unique(drawing.reshape(-1, 3), axis=0)) <= 3
  capsys.readouterr()
  out = tmp_path / 'out'
  fast = [a for a in _FAST if a != '--quiet']
  assert cli.main(['sketch', str(drawing_path), str(paths['appearance_mp4']),
                   '--out', str(out)] + fast) == 0
  result, _ = io.read_video(out / 'sketch_000.mp4')
  assert result.shape == (6, 24, 32, 3)
  text = capsys.readouterr().out
  assert 'structure ' in text and 'wrote 1 output(s)' in text
  assert 'note:' not in text  # the appearance has the sketch's size


@pytest.mark.parametrize('args, message', [
    (['analogy', '{missing}', '{appearance_mp4}'], 'nope.mp4'),
    (['analogy', '{structure_mp4}', '{missing}'], 'nope.mp4'),
    (['analogy', '{corrupt_mp4}', '{appearance_mp4}'], 'corrupt.mp4'),
    (['analogy', '{structure_mp4}', '{corrupt_mp4}'], 'corrupt.mp4'),
    (['sketch', '{flat_mp4}', '{appearance_mp4}'], 'single colour'),
    (['sketch', '{missing}', '{appearance_mp4}'], 'file not found'),
    (['analogy', '{structure_mp4}', '{appearance_png}'],
     'two videos or two images'),
    (['analogy', '{structure_png}', '{appearance_mp4}'],
     'two videos or two images'),
    (['analogy', '{short_mp4}', '{appearance_mp4}', '--patch', '3,5,5'],
     'structure has 2 frame'),
    (['analogy', '{structure_mp4}', '{short_mp4}', '--patch', '3,5,5'],
     'patch'),
    (['analogy', '{structure_mp4}', '{appearance_mp4}', '--structure-weight',
      '-1'], '--structure-weight'),
    (['sketch', '{structure_mp4}', '{appearance_mp4}', '--cue-levels', '-1'],
     '--cue-levels'),
    (['analogy', '{structure_mp4}', '{appearance_mp4}', '--num', '0'],
     '--num'),
    (['analogy', '{structure_mp4}', '{appearance_mp4}', '--level', '0'],
     '--level'),
])
def test_bad_input_exits_2_and_writes_nothing(tmp_path, paths, capsys, args,
                                              message):
  names = dict(paths, missing=tmp_path / 'nope.mp4')
  before = _digests(paths['structure_mp4'].parent)
  args = [a.format(**names) for a in args]
  out = tmp_path / 'out'
  # The case's own options come last, so they win over the fast ones.
  assert cli.main(args[:1] + _FAST + args[1:] + ['--out', str(out)]) == (
      cli.EXIT_BAD_INPUT)
  err = capsys.readouterr().err
  cli_checks.assert_refused(err, message)
  assert not out.exists() or not any(out.iterdir())
  assert _digests(paths['structure_mp4'].parent) == before


@pytest.mark.parametrize('args, message', [
    (['{structure_mp4}', '--disc', '6x24x32'], 'INPUT or --disc'),
    ([], 'INPUT or --disc'),
    (['--disc', '6x24'], '--disc'),
    (['--disc', '6xax32'], '--disc'),
    (['--disc', '0x24x32'], '--disc'),
    (['--disc', '6x24x32x2'], '--disc'),
    (['{structure_mp4}', '--colours', '1'], '--colours'),
    (['--disc', '6x24x32', '--colours', '3'], '--colours is for'),
    (['{flat_mp4}'], 'single colour'),
    (['{missing}'], 'file not found'),
    (['{corrupt_mp4}'], 'corrupt.mp4'),
    (['--disc', '6x24x32', '--out', '{sketch_png}'], 'one frame'),
])
def test_make_sketch_bad_input_exits_2_and_writes_nothing(tmp_path, paths,
                                                          capsys, args,
                                                          message):
  names = dict(paths, missing=tmp_path / 'nope.mp4',
               sketch_png=tmp_path / 'sketch.png')
  before = _digests(paths['structure_mp4'].parent)
  if '--out' not in args:
    args = args + ['--out', str(tmp_path / 'sketch.mp4')]
  args = ['make-sketch'] + [a.format(**names) for a in args]
  assert cli.main(args) == cli.EXIT_BAD_INPUT
  err = capsys.readouterr().err
  cli_checks.assert_refused(err, message)
  assert not (tmp_path / 'sketch.mp4').exists()
  assert not (tmp_path / 'sketch.png').exists()
  assert sorted(p.name for p in tmp_path.iterdir()) == ['inputs']
  assert _digests(paths['structure_mp4'].parent) == before


def test_help_lists_the_analogy_subcommands(capsys):
  with pytest.raises(SystemExit):
    cli.main(['--help'])
  text = capsys.readouterr().out
  for command in ('analogy', 'sketch', 'make-sketch'):
    assert command in text
  with pytest.raises(SystemExit):
    cli.main(['analogy', '--help'])
  text = capsys.readouterr().out
  for option in ('--structure-weight', '--cue-levels', '--num', '--seed',
                 '--level'):
    assert option in text
