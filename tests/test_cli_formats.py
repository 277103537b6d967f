"""Tests of the output formats of the command line: --format png, --crf."""

import numpy as np
import pytest

from tests import cli_checks
from vgpnn_jax import cli
from vgpnn_jax import errors
from vgpnn_jax import io

_FAST = ['--search', 'exact', '--patch', '3,5,5', '--levels', '2', '--iters',
         '1', '--quiet']


@pytest.fixture(name='video_path')
def _video_path(tmp_path):
  return cli_checks.write_wave_video(tmp_path)


@pytest.fixture(name='generated')
def _generated(monkeypatch):
  """The [N, T, H, W, 3] outputs of each `cli._generate` call, as made."""
  made = []
  generate = cli._generate

  def keep(*args, **kwargs):
    outputs = generate(*args, **kwargs)
    made.append(outputs)
    return outputs

  monkeypatch.setattr(cli, '_generate', keep)
  return made


def _names(folder):
  return sorted(p.name for p in folder.iterdir())


def test_png_writes_a_lossless_folder_of_frames_per_output(
    tmp_path, video_path, generated, capsys):
  out = tmp_path / 'out'
  assert cli.main(['generate', str(video_path), '--out', str(out), '--num',
                   '2', '--format', 'png'] + _FAST) == 0
  # No hidden temporary folder is left; the grid and sheet are as for mp4.
  assert _names(out) == ['contact.png', 'grid.mp4', 'variation_000',
                         'variation_001']
  assert _names(out / 'variation_000') == [f'{i:06d}.png' for i in range(6)]
  outputs, = generated
  for index, output in enumerate(outputs):
    frames, fps = io.read_video(out / f'variation_{index:03d}')
    assert frames.shape == output.shape == (6, 18, 24, 3)
    assert fps == 10  # the input's rate, kept in the frames
    np.testing.assert_allclose(frames, np.clip(output, 0, 1),
                               atol=0.5 / 255 + 1e-6)
  assert 'folders of PNG frames' in capsys.readouterr().out


def test_png_folders_are_refused_replaced_and_removed_as_outputs(
    tmp_path, video_path, capsys):
  out = tmp_path / 'out'
  run = lambda *extra: cli.main(['generate', str(video_path), '--out',
                                 str(out), '--format', 'png', *extra] + _FAST)
  assert run('--num', '3') == 0
  capsys.readouterr()
  first = (out / 'variation_000' / '000000.png').stat().st_mtime_ns
  # An existing folder is an existing output.
  assert run('--num', '1') == cli.EXIT_BAD_INPUT
  assert 'variation_000' in capsys.readouterr().err
  # A folder of something else beyond --num is not ours to remove.
  (out / 'variation_007').mkdir()
  (out / 'variation_007' / 'notes.txt').write_text('mine')
  assert run('--num', '1', '--seed', '1', '--overwrite') == 0
  assert _names(out) == ['contact.png', 'grid.mp4', 'variation_000',
                         'variation_007']  # 001 and 002 were stale
  assert (out / 'variation_000' / '000000.png').stat().st_mtime_ns != first
  assert 'removed 2 stale output(s)' in capsys.readouterr().out
  # Nor is a folder of other files where an output goes, even with
  # --overwrite.
  (out / 'variation_000' / 'notes.txt').write_text('mine')
  assert run('--num', '1', '--overwrite') == cli.EXIT_BAD_INPUT
  assert 'holding other files' in capsys.readouterr().err
  assert (out / 'variation_000' / 'notes.txt').exists()


def test_png_never_replaces_an_input_folder(tmp_path, video_path, capsys):
  video, _ = io.read_video(video_path)
  frames = tmp_path / 'variation_000'
  io.write_frames(frames, video)
  assert cli.main(['generate', str(frames), '--out', str(tmp_path),
                   '--format', 'png', '--num', '1', '--overwrite'] +
                  _FAST) == cli.EXIT_BAD_INPUT
  assert 'would replace the input' in capsys.readouterr().err


def test_write_frames_keeps_the_frame_rate(tmp_path):
  video = np.full((3, 4, 6, 3), 0.5, np.float32)
  io.write_frames(tmp_path / 'kept', video, fps=24.5)
  assert io.read_video(tmp_path / 'kept')[1] == 24.5
  assert io.read_video(tmp_path / 'kept', step=2)[1] == 12.25
  assert io.video_info(tmp_path / 'kept') == (3, 4, 6, 24.5)
  io.write_frames(tmp_path / 'plain', video)  # no rate: a folder's default
  assert io.read_video(tmp_path / 'plain')[1] == io.FOLDER_FPS
  for bad in (0, -1, float('nan'), 'fast'):
    with pytest.raises(errors.InputError, match='fps must be a positive'):
      io.write_frames(tmp_path / 'bad', video, fps=bad)
  assert not (tmp_path / 'bad').exists()


def test_write_frames_is_complete_or_absent(tmp_path, monkeypatch):
  video = np.linspace(0, 1, 4 * 5 * 6 * 3, dtype=np.float32).reshape(
      4, 5, 6, 3)
  folder = tmp_path / 'clip'
  io.write_frames(folder, video)
  before = io.read_video(folder)[0]
  write_png = io._write_png
  calls = []

  def fail_third(path, frame, fps=None):
    calls.append(path)
    if len(calls) == 3:
      raise KeyboardInterrupt  # as Ctrl-C midway
    write_png(path, frame, fps)

  monkeypatch.setattr(io, '_write_png', fail_third)
  with pytest.raises(KeyboardInterrupt):
    io.write_frames(folder, 1 - video)
  assert _names(tmp_path) == ['clip']  # the old folder, no temporary one
  np.testing.assert_array_equal(io.read_video(folder)[0], before)
  monkeypatch.setattr(io, '_write_png', write_png)
  io.write_frames(folder, 1 - video)  # a complete write replaces it
  assert _names(tmp_path) == ['clip']
  np.testing.assert_allclose(io.read_video(folder)[0], 1 - video,
                             atol=0.5 / 255 + 1e-6)


def test_crf_trades_size_for_fidelity(tmp_path, video_path, generated):
  sizes, errors = {}, {}
  for crf in ('0', '40'):
    out = tmp_path / crf
    assert cli.main(['generate', str(video_path), '--out', str(out), '--num',
                     '1', '--crf', crf] + _FAST) == 0
    path = out / 'variation_000.mp4'
    sizes[crf] = path.stat().st_size
    errors[crf] = np.abs(io.read_video(path)[0] - generated[-1][0]).mean()
  np.testing.assert_array_equal(*generated)  # the same outputs, encoded twice
  assert sizes['0'] > sizes['40']
  assert errors['0'] < errors['40']


@pytest.mark.parametrize('extra, says', [
    (['--crf', '52'], 'from 0'),
    (['--crf', '-1'], 'from 0'),
    (['--crf', '20', '--format', 'gif'], '--format gif writes no mp4'),
    (['--crf', '20', '--format', 'png'], '--format png writes no mp4'),
])
def test_bad_crf_exits_2_with_one_line(tmp_path, video_path, capsys, extra,
                                       says):
  out = tmp_path / 'out'
  assert cli.main(['generate', str(video_path), '--out', str(out)] + extra +
                  _FAST) == cli.EXIT_BAD_INPUT
  err = capsys.readouterr().err
  assert says in err and len(err.strip().splitlines()) == 1
  assert not out.exists()


def test_crf_is_refused_for_an_image(tmp_path, capsys):
  image = tmp_path / 'image.png'
  io.write_video(image, np.full((1, 20, 20, 3), 0.5, np.float32), fps=1)
  out = tmp_path / 'out'
  assert cli.main(['generate', str(image), '--out', str(out), '--crf',
                   '20', '--patch', '1,5,5', '--levels', '2', '--quiet']) == (
                       cli.EXIT_BAD_INPUT)
  assert 'an image input writes PNGs' in capsys.readouterr().err
  assert not out.exists()


def test_png_and_crf_reach_the_other_commands(tmp_path, video_path):
  out = tmp_path / 'out'
  assert cli.main(['inpaint', str(video_path), '--box', ':,4:10,6:14', '--out',
                   str(out), '--format', 'png', '--level', '2', '--iters',
                   '1', '--quiet']) == 0
  frames, _ = io.read_video(out / 'inpaint_000')
  assert frames.shape == (6, 18, 24, 3)
  assert cli.main(['inpaint', str(video_path), '--box', ':,4:10,6:14', '--out',
                   str(out), '--crf', '99', '--quiet']) == cli.EXIT_BAD_INPUT


def test_report_prints_the_librarys_numbers_for_the_outputs(
    tmp_path, video_path, generated, capsys):
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  from vgpnn_jax import generation  # pylint: disable=g-import-not-at-top
  from vgpnn_jax import metrics  # pylint: disable=g-import-not-at-top
  from vgpnn_jax import report  # pylint: disable=g-import-not-at-top
  out = tmp_path / 'out'
  assert cli.main(['generate', str(video_path), '--out', str(out), '--num',
                   '2', '--seed', '5', '--report'] + _FAST) == 0
  printed = capsys.readouterr().out
  outputs, = generated
  video, _ = io.read_video(video_path)
  names = [str(out / f'variation_{i:03d}.mp4') for i in range(2)]
  expected = report.evaluate_videos(
      video, list(outputs), key=generation.key_for_seed(5), names=names,
      reference_name=str(video_path),
      patch_size=(3, 7, 7), max_patches=4096, swd_max_patches=2**15)
  for row in expected['outputs']:
    line, = [l for l in printed.splitlines() if l.startswith(
        f'| {row["name"]} |')]
    cells = [c.strip() for c in line.split('|')[1:-1]]
    assert float(cells[2]) == pytest.approx(row['coherence'], rel=1e-3)
    assert float(cells[3]) == pytest.approx(row['completeness'], rel=1e-3)
  diversity = float(metrics.diversity(jnp.asarray(outputs), video))
  assert diversity > 0
  assert f'Diversity over 2 outputs: {diversity:.4g}.' in printed
  assert report.format_table(expected) in printed


def test_report_fits_its_patches_to_a_video_smaller_than_them(
    tmp_path, video_path, capsys):
  # Generated with 3x5x5 patches, a 6-row video has no 3x7x7 patch: the
  # report uses 3x6x7 rather than failing after the outputs were written.
  video, fps = io.read_video(video_path)
  small = tmp_path / 'small.mp4'
  io.write_video(small, video[:, :6], fps=fps)
  out = tmp_path / 'out'
  assert cli.main(['generate', str(small), '--out', str(out), '--report',
                   '--search', 'exact', '--patch', '3,5,5', '--levels', '1',
                   '--iters', '1', '--quiet']) == 0
  printed = capsys.readouterr().out
  assert 'patches 3x6x7' in printed
  assert (out / 'variation_000.mp4').exists()


def test_report_is_one_input_at_a_time(tmp_path, video_path, capsys):
  assert cli.main(['generate', str(tmp_path), '--out', str(tmp_path / 'o'),
                   '--report'] + _FAST) == cli.EXIT_BAD_INPUT
  assert '--report evaluates one input' in capsys.readouterr().err
