"""Tests of the `inpaint` and `edit` subcommands, in-process on tiny videos."""

import numpy as np
import pytest

from tests import cli_checks
from vgpnn_jax import cli
from vgpnn_jax import io

_FAST = ['--search', 'exact', '--patch', '3,5,5', '--level', '2', '--iters',
         '1', '--quiet']


def _video():
  t = np.linspace(0, 1, 6)[:, None, None, None]
  y = np.linspace(0, 1, 24)[None, :, None, None]
  x = np.linspace(0, 1, 32)[None, None, :, None]
  video = 0.5 + 0.4 * np.sin(9 * x + 6 * y + 2 * t + np.array([0, 1, 2]))
  return video.astype(np.float32)


@pytest.fixture(name='paths')
def _paths(tmp_path):
  video = _video()
  paths = {'video': tmp_path / 'input.mp4', 'mask': tmp_path / 'mask.png',
           'cue': tmp_path / 'cue.mp4', 'same': tmp_path / 'same.mp4',
           'edited': tmp_path / 'edited.mp4', 'small': tmp_path / 'small.mp4',
           'empty': tmp_path / 'empty.png', 'tall': tmp_path / 'tall.png'}
  io.write_video(paths['video'], video, fps=10)
  # Read back: mp4 is lossy, and the cue must differ only where painted.
  video, _ = io.read_video(paths['video'])
  mask = np.zeros((24, 32, 3), np.float32)
  mask[8:16, 10:20] = 1.0
  io.write_video(paths['mask'], mask[None], fps=1)
  io.write_video(paths['empty'], np.zeros((1, 24, 32, 3), np.float32), fps=1)
  io.write_video(paths['tall'], np.ones((1, 40, 20, 3), np.float32), fps=1)
  cue = video.copy()
  cue[:, 8:16, 10:20] = [0.1, 0.2, 0.9]
  io.write_video(paths['cue'], cue, fps=10)
  io.write_video(paths['same'], video, fps=10)
  edited = video.copy()
  edited[:, 12:20, 18:28] = video[:, 2:10, 2:12]
  io.write_video(paths['edited'], edited, fps=10)
  io.write_video(paths['small'], video[:, :20], fps=10)
  return paths


@pytest.mark.parametrize('region', [
    ['--box', '0:6,8:16,10:20', '--blend-seams'], ['--mask', '{mask}'],
    ['--cue', '{cue}'],
    ['--cue', '{cue}', '--mask', '{mask}']])
def test_inpaint_writes_fills_and_grid(tmp_path, paths, capsys, region):
  before = cli_checks.digest(paths['video'])
  region = [a.format(**paths) for a in region]
  out = tmp_path / 'out'
  assert cli.main(['inpaint', str(paths['video']), '--out', str(out),
                   '--num', '2'] + region + _FAST) == 0
  names = sorted(p.name for p in out.iterdir())
  assert names == ['contact.png', 'grid.mp4', 'inpaint_000.mp4',
                   'inpaint_001.mp4']
  video, _ = io.read_video(paths['video'])
  fill, fps = io.read_video(out / 'inpaint_000.mp4')
  assert fill.shape == video.shape and fps == 10
  outside = np.ones(video.shape[:3], bool)
  outside[:, 6:18, 8:22] = False  # the hole and a margin for the codec
  assert np.abs(fill[outside] - video[outside]).mean() < 0.02
  grid, _ = io.read_video(out / 'grid.mp4')
  assert grid.shape[2] > 4 * 32  # input, region, two fills
  assert 'wrote 2 output(s)' in capsys.readouterr().out
  assert cli_checks.digest(paths['video']) == before


def test_edit_writes_results_and_grid(tmp_path, paths):
  out = tmp_path / 'out'
  assert cli.main(['edit', str(paths['video']), str(paths['edited']),
                   '--out', str(out)] + _FAST) == 0
  assert sorted(p.name for p in out.iterdir()) == ['contact.png',
                                                   'edit_000.mp4', 'grid.mp4']
  result, _ = io.read_video(out / 'edit_000.mp4')
  assert result.shape == (6, 24, 32, 3)
  masked = tmp_path / 'masked'
  assert cli.main(['edit', str(paths['video']), str(paths['edited']),
                   '--out', str(masked), '--mask', str(paths['mask']),
                   '--values', str(paths['video']), '--with-original'] +
                  _FAST) == 0
  result, _ = io.read_video(masked / 'edit_000.mp4')
  edited, _ = io.read_video(paths['edited'])
  outside = np.ones(result.shape[:3], bool)
  outside[:, 6:18, 8:22] = False
  assert np.abs(result[outside] - edited[outside]).mean() < 0.02


@pytest.mark.parametrize('args, message', [
    (['inpaint', '{video}'], 'one of --mask'),
    (['inpaint', '{video}', '--box', '0:6,1:2,1:2', '--mask', '{mask}'],
     'one of --mask'),
    (['inpaint', '{video}', '--mask', '{empty}'], 'empty'),
    (['inpaint', '{video}', '--mask', '{tall}'], 'mask'),
    (['inpaint', '{video}', '--box', '0:6,100:120,0:5'], 'outside'),
    (['inpaint', '{video}', '--cue', '{same}'], 'identical'),
    (['inpaint', '{video}', '--cue', '{small}'], 'paint over a copy'),
    (['inpaint', '{video}', '--box', '0:6,0:24,0:32'], 'whole video'),
    (['inpaint', '{missing}', '--box', '0:6,1:5,1:5'], 'file not found'),
    (['edit', '{video}', '{small}'], 'edit a copy of the original'),
    (['edit', '{video}', '{edited}', '--values', '{small}'], 'frame size'),
    (['edit', '{video}', '{edited}', '--with-original'], '--values'),
    (['edit', '{video}', '{edited}', '--level', '0'], '--level'),
])
def test_bad_input_exits_2_and_writes_nothing(tmp_path, paths, capsys, args,
                                              message):
  names = dict(paths, missing=tmp_path / 'nope.mp4')
  digests = {k: cli_checks.digest(p) for k, p in paths.items()}
  args = [a.format(**names) for a in args]
  out = tmp_path / 'out'
  # The case's own options come last, so they win over the fast ones.
  assert cli.main(args[:1] + _FAST + args[1:] + ['--out', str(out)]) == (
      cli.EXIT_BAD_INPUT)
  err = capsys.readouterr().err
  cli_checks.assert_refused(err, message)
  assert not out.exists() or not any(out.iterdir())
  assert digests == {k: cli_checks.digest(p) for k, p in paths.items()}


def test_help_lists_the_editing_subcommands(capsys):
  with pytest.raises(SystemExit):
    cli.main(['--help'])
  text = capsys.readouterr().out
  assert 'inpaint' in text and 'edit' in text
  with pytest.raises(SystemExit):
    cli.main(['inpaint', '--help'])
  text = capsys.readouterr().out
  for option in ('--mask', '--box', '--cue', '--num', '--seed', '--level'):
    assert option in text


@pytest.mark.parametrize('command, defaults', [('inpaint', 'INPAINT_DEFAULTS'),
                                               ('edit', 'EDIT_DEFAULTS')])
def test_help_states_the_library_default_level(capsys, command, defaults):
  from vgpnn_jax import edit  # pylint: disable=g-import-not-at-top
  with pytest.raises(SystemExit):
    cli.main([command, '--help'])
  text = ' '.join(capsys.readouterr().out.split())
  levels = getattr(edit, defaults)['max_levels']
  assert f'(default: {levels or "all"}' in text


def test_an_image_input_writes_pngs(tmp_path):
  image = _video()[:1]
  path = tmp_path / 'image.png'
  io.write_video(path, image, fps=1)
  fast = ['--search', 'exact', '--patch', '1,5,5', '--iters', '1', '--quiet']
  assert cli.main(['generate', str(path), '--out', str(tmp_path / 'gen'),
                   '--num', '2', '--levels', '2'] + fast) == 0
  assert sorted(p.name for p in (tmp_path / 'gen').iterdir()) == [
      'grid.png', 'variation_000.png', 'variation_001.png']
  assert cli.main(['inpaint', str(path), '--out', str(tmp_path / 'fill'),
                   '--box', '0:1,8:16,10:20', '--level', '2'] + fast) == 0
  fill, _ = io.read_video(tmp_path / 'fill' / 'inpaint_000.png')
  assert fill.shape == (1, 24, 32, 3)
  outside = np.ones((24, 32), bool)
  outside[8:16, 10:20] = False
  # PNG is lossless: outside the box the image is the input's 8-bit values.
  original, _ = io.read_video(path)
  np.testing.assert_array_equal(fill[0][outside], original[0][outside])
