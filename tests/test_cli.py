"""Tests of the command line, run in-process on tiny videos."""

import hashlib
import pathlib

import numpy as np
import pytest

from tests import cli_checks
from vgpnn_jax import cli
from vgpnn_jax import io

_FAST = ['--search', 'exact', '--patch', '3,5,5', '--levels', '2', '--iters',
         '1', '--quiet']


@pytest.fixture(name='video_path')
def _video_path(tmp_path):
  return cli_checks.write_wave_video(tmp_path)


def _digest(path: pathlib.Path) -> str:
  return hashlib.sha256(path.read_bytes()).hexdigest()


def test_generate_writes_variations_and_grid(tmp_path, video_path, capsys):
  before = _digest(video_path)
  out = tmp_path / 'out'
  status = cli.main(['generate', str(video_path), '--out', str(out), '--num',
                     '2', '--seed', '3'] + _FAST)
  assert status == 0
  names = sorted(p.name for p in out.iterdir())
  assert names == ['contact.png', 'grid.mp4', 'variation_000.mp4',
                   'variation_001.mp4']
  first, fps = io.read_video(out / 'variation_000.mp4')
  assert first.shape == (6, 18, 24, 3) and fps == 10
  grid, _ = io.read_video(out / 'grid.mp4')
  assert grid.shape[2] > 3 * 24
  sheet, _ = io.read_video(out / 'contact.png')  # a row per video, 4 frames
  assert sheet.shape == (1, 3 * 18 + 2 * 4, 4 * 24 + 3 * 4, 3)
  assert 'wrote 2 variation(s), grid.mp4 and contact.png' in (
      capsys.readouterr().out)
  assert _digest(video_path) == before  # the input is never modified


def test_same_seed_same_output_and_gif(tmp_path, video_path):
  for name in ('a', 'b'):
    assert cli.main(['generate', str(video_path), '--out',
                     str(tmp_path / name), '--num', '1', '--format', 'gif',
                     '--noise', '0.3', '--frames', '0:5'] + _FAST) == 0
  a, _ = io.read_video(tmp_path / 'a' / 'variation_000.gif')
  b, _ = io.read_video(tmp_path / 'b' / 'variation_000.gif')
  assert a.shape == (5, 18, 24, 3)
  np.testing.assert_array_equal(a, b)


def test_diversity_and_noise_pick_the_unit(tmp_path, capsys):
  # --diversity counts patch spreads, --noise value units: on an image
  # (lossless PNG out) each CLI output is the library's output with that
  # unit, up to the 8-bit rounding.
  import jax  # pylint: disable=g-import-not-at-top
  import vgpnn_jax  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(0)
  y = np.linspace(0, 1, 32)[None, :, None, None]
  x = np.linspace(0, 1, 40)[None, None, :, None]
  image = 0.5 + 0.3 * np.sin(9 * x + 7 * y + np.array([0, 1, 2]))
  image = np.clip(image + 0.1 * rng.random(image.shape), 0, 1)
  path = tmp_path / 'image.png'
  io.write_video(path, image.astype(np.float32), fps=1)
  video, _ = io.read_video(path)
  fast = ['--search', 'exact', '--patch', '1,5,5', '--levels', '3',
          '--iters', '2', '--quiet']
  config = vgpnn_jax.make_config(vgpnn_jax.generation.default_config(1),
                                 search='exact', patch_size=(1, 5, 5),
                                 max_levels=3, num_iters=2)
  cases = {'high': (['--diversity', 'high'],
                    dict(noise_std=vgpnn_jax.noise.diversity_noise('high'),
                         noise_unit='patch_spread')),
           'value': (['--noise', '0.5'],
                     dict(noise_std=0.5, noise_unit='value'))}
  for name, (flags, options) in cases.items():
    expected = np.asarray(vgpnn_jax.generate_batch(
        jax.random.split(jax.random.key(2), 1), video, config, **options)[0])
    out = tmp_path / name
    assert cli.main(['generate', str(path), '--out', str(out), '--num', '1',
                     '--seed', '2'] + fast + flags) == 0
    ours, _ = io.read_video(out / 'variation_000.png')
    np.testing.assert_allclose(ours, np.clip(expected, 0, 1), atol=0.6 / 255)
    cases[name] = ours
  assert np.abs(cases["high"] - cases["value"]).mean() > 1e-3  # 0.0038
  assert cli.main(['generate', str(path), '--out', str(tmp_path / 'x'),
                   '--diversity', 'medium'] + fast) == 2
  assert "--diversity: diversity must be one of ('low', 'default', 'high')" in (
      capsys.readouterr().err)
  with pytest.raises(SystemExit):  # argparse: not both
    cli.main(['generate', str(path), '--out', str(tmp_path / 'y'),
              '--diversity', 'low', '--noise', '1'])



def test_guard_flag_is_the_librarys_layout_draws(tmp_path, capsys):
  import jax  # pylint: disable=g-import-not-at-top
  import vgpnn_jax  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(1)
  path = tmp_path / 'image.png'
  io.write_video(path, rng.random((1, 28, 36, 3)).astype(np.float32), fps=1)
  video, _ = io.read_video(path)
  config = vgpnn_jax.make_config(vgpnn_jax.generation.default_config(1),
                                 search='exact', patch_size=(1, 5, 5),
                                 max_levels=3, num_iters=2, layout_draws=3)
  expected = np.asarray(vgpnn_jax.generate_batch(
      jax.random.split(jax.random.key(4), 1), video, config)[0])
  fast = ['--search', 'exact', '--patch', '1,5,5', '--levels', '3',
          '--iters', '2', '--quiet', '--num', '1', '--seed', '4']
  assert cli.main(['generate', str(path), '--out', str(tmp_path / 'g'),
                   '--guard', '3'] + fast) == 0
  ours, _ = io.read_video(tmp_path / 'g' / 'variation_000.png')
  np.testing.assert_allclose(ours, np.clip(expected, 0, 1), atol=0.6 / 255)
  assert cli.main(['generate', str(path), '--out', str(tmp_path / 'x'),
                   '--guard', '0'] + fast) == 2
  assert '--guard must be an integer >= 1' in capsys.readouterr().err
  assert not (tmp_path / 'x').exists()

def test_scale_retargets(tmp_path, video_path):
  assert cli.main(['generate', str(video_path), '--out', str(tmp_path),
                   '--num', '1', '--scale', '1,1,1.5', '--noise', '0'] +
                  _FAST) == 0
  out, _ = io.read_video(tmp_path / 'variation_000.mp4')
  assert out.shape == (6, 18, 36, 3)


def test_alpha_option_turns_the_completeness_term_off(tmp_path, video_path,
                                                     capsys):
  outputs = {}
  for name, extra in (('default', []), ('off', ['--alpha', 'none']),
                      ('strong', ['--alpha', '0.01'])):
    assert cli.main(['generate', str(video_path), '--out',
                     str(tmp_path / name), '--num', '1', '--noise', '0.5'] +
                    _FAST + extra) == 0
    outputs[name], _ = io.read_video(tmp_path / name / 'variation_000.mp4')
  assert np.abs(outputs['default'] - outputs['off']).max() > 0.01
  assert np.abs(outputs['strong'] - outputs['default']).max() > 0.01
  with pytest.raises(SystemExit) as raised:
    cli.main(['generate', str(video_path), '--alpha', '-1'])
  assert raised.value.code == 2
  assert '--alpha takes a positive number' in capsys.readouterr().err


@pytest.mark.parametrize('args, message', [
    (['generate', '{missing}'], 'file not found'),
    (['generate', '{video}', '--frames', '0:2'], 'fewer than the 3-frame'),
    (['generate', '{video}', '--scale', '1,0.2,1'], 'cannot hold one'),
    (['generate', '{video}', '--patch', '3,25,25'], 'smaller than the'),
    (['generate', '{video}', '--out', '{file}/sub'], 'cannot write'),
    (['generate', '{video}', '--num', '0'], '--num'),
    (['generate', '{video}', '--num', '1000000'], 'fewer variations'),
    (['generate', '{corrupt}'], 'corrupt.mp4'),
])
def test_bad_input_exits_2_with_one_message(tmp_path, video_path, capsys,
                                            args, message):
  (tmp_path / 'afile').write_text('x')
  (tmp_path / 'corrupt.mp4').write_text('not a video')
  names = {'missing': tmp_path / 'nope.mp4', 'video': video_path,
           'file': tmp_path / 'afile', 'corrupt': tmp_path / 'corrupt.mp4'}
  args = [a.format(**names) for a in args]
  if '--out' not in args:
    args += ['--out', str(tmp_path / 'out')]
  # The case's own options come last, so they win over the fast defaults.
  assert cli.main(args[:1] + _FAST + args[1:]) == cli.EXIT_BAD_INPUT
  err = capsys.readouterr().err
  assert message in err and err.startswith('error: ') and 'Traceback' not in err
  assert err.count('\n') == 1
  out = tmp_path / 'out'
  assert not out.exists() or not any(out.iterdir())  # nothing half-written


def test_help_explains_every_option(capsys):
  with pytest.raises(SystemExit):
    cli.main(['generate', '--help'])
  text = capsys.readouterr().out
  for option in ('--out', '--num', '--seed', '--max-size', '--frames',
                 '--noise', '--scale', '--patch', '--iters', '--search',
                 '--alpha', '--levels', '--reduce', '--format'):
    assert option in text


def test_dry_run_prints_the_plan_and_writes_nothing(tmp_path, video_path,
                                                    capsys):
  import vgpnn_jax  # pylint: disable=g-import-not-at-top
  from vgpnn_jax import memory  # pylint: disable=g-import-not-at-top
  out = tmp_path / 'out'
  assert cli.main(['generate', str(video_path), '--out', str(out), '--num',
                   '3', '--dry-run'] + _FAST) == 0
  assert not out.exists()
  printed = capsys.readouterr().out
  video, _ = io.read_video(video_path)
  levels = vgpnn_jax.plan_levels(video.shape[:3], vgpnn_jax.make_config(
      patch_size=(3, 5, 5), max_levels=2, num_iters=1, search='exact'))
  rows = [line.split() for line in printed.splitlines()
          if line[:5].strip().isdigit()]
  assert [row[1] for row in rows] == [
      'x'.join(map(str, l.output_size)) for l in levels[::-1]]
  assert all(row[4] == 'exact' for row in rows)
  gib = memory.estimate_bytes(levels, 3, 3, layout_draws=2) / 2**30  # guard
  assert f'memory estimate: {gib:.2f} GiB for 3 output(s)' in printed
  assert str(out / 'variation_002.mp4') in printed


def test_dry_run_plans_without_decoding_the_input(tmp_path, video_path,
                                                  capsys, monkeypatch):
  video, fps = io.read_video(video_path, start=1, step=2)

  def no_decoding(*args, **kwargs):
    raise AssertionError('--dry-run decoded the input')

  monkeypatch.setattr(io, 'read_video', no_decoding)
  assert cli.main(['generate', str(video_path), '--out', str(tmp_path / 'o'),
                   '--frames', '1::2', '--dry-run'] + _FAST) == 0
  t, h, w = video.shape[:3]
  assert (f'{t} frames of {h}x{w} at {fps:g} fps' in
          capsys.readouterr().out)


def test_dry_run_of_a_request_too_large_shows_the_plan_then_refuses(
    tmp_path, video_path, capsys, monkeypatch):
  from vgpnn_jax import memory  # pylint: disable=g-import-not-at-top
  monkeypatch.setattr(memory, 'available_bytes', lambda: 2**20)  # 1 MiB
  out = tmp_path / 'out'
  assert cli.main(['generate', str(video_path), '--out', str(out),
                   '--dry-run'] + _FAST) == cli.EXIT_BAD_INPUT
  printed = capsys.readouterr()
  # The plan (level rows and the estimate) comes first, then the refusal
  # with a smaller request to try; no time estimate, nothing written.
  rows = [line for line in printed.out.splitlines()
          if line[:5].strip().isdigit()]
  assert len(rows) == 2 and 'memory estimate: ' in printed.out
  assert 'time estimate' not in printed.out
  assert printed.err.startswith('error: this request needs about ')
  assert not out.exists()
  # Without --dry-run the same request is refused before anything is shown.
  assert cli.main(['generate', str(video_path), '--out', str(out)] +
                  _FAST) == cli.EXIT_BAD_INPUT
  printed = capsys.readouterr()
  assert 'memory estimate' not in printed.out
  assert printed.err.startswith('error: this request needs about ')



def _fast_plan(video_path):
  """The plan `generate ... _FAST` makes of `video_path`, and its config."""
  from vgpnn_jax import generation  # pylint: disable=g-import-not-at-top
  video, _ = io.read_video(video_path)
  config = generation.make_config(
      generation.default_config(video.shape[0], (1, 1, 1)), search='exact',
      patch_size=(3, 5, 5), max_levels=2, num_iters=1)
  return generation.plan_levels(video.shape[:3], config), config


def _too_little_for_the_whole_clip(video_path, monkeypatch):
  """Patches the free memory to just under what the whole clip needs;
  returns the windows `memory.fitting_windows` picks then."""
  from vgpnn_jax import generation  # pylint: disable=g-import-not-at-top
  from vgpnn_jax import memory  # pylint: disable=g-import-not-at-top
  levels, config = _fast_plan(video_path)
  whole = memory.estimate_bytes(levels, 3,
                                layout_draws=generation.guard_draws(config),
                                guard_level=config.guard_level)
  available = int(whole / memory.USABLE_FRACTION) - 1
  monkeypatch.setattr(memory, 'available_bytes', lambda: available)
  # No memory left spare: this clip's windows save less than the share
  # (memory.fitting_windows' spare is tested in test_memory).
  monkeypatch.setattr(cli, '_WINDOW_SPARE', 0.0)
  choice = memory.fitting_windows(levels, 3, available=available,
                                  config=config)
  assert choice is not None and choice.levels == 1  # the finest of 2
  return choice


def test_auto_windows_a_clip_too_long_to_fit_whole_and_says_so(
    tmp_path, video_path, capsys, monkeypatch):
  choice = _too_little_for_the_whole_clip(video_path, monkeypatch)
  out = tmp_path / 'out'
  line = (f'temporal windows: level 2 of 2 (the finest 1) in windows of '
          f'{choice.frames} frames (overlap 2): the whole clip needs about ')
  assert cli.main(['generate', str(video_path), '--out', str(out),
                   '--dry-run'] + _FAST) == 0
  assert line in capsys.readouterr().out
  # The run says it too, and fits: generate checks the windowed estimate.
  assert cli.main(['generate', str(video_path), '--out', str(out), '--num',
                   '1'] + _FAST[:-1]) == 0
  assert line in capsys.readouterr().out
  assert (out / 'variation_000.mp4').exists()
  # Without windows it is refused as before.
  assert cli.main(['generate', str(video_path), '--out',
                   str(tmp_path / 'off'), '--window-frames', 'off',
                   '--dry-run'] +
                  _FAST) == cli.EXIT_BAD_INPUT
  printed = capsys.readouterr()
  assert printed.err.startswith('error: this request needs about ')
  assert 'temporal windows' not in printed.out + printed.err


def test_auto_key_windows_are_said_and_used(tmp_path, video_path, capsys,
                                            monkeypatch):
  from vgpnn_jax import memory  # pylint: disable=g-import-not-at-top
  _too_little_for_the_whole_clip(video_path, monkeypatch)
  # As where the whole keys leave no good window: windows searching their
  # own frames and 1 more either side (of this clip's 5).
  chosen = []

  def key_windows(*args, **kwargs):
    del args, kwargs
    chosen.append(memory.WindowChoice(3, 1, 1))
    return chosen[-1]

  monkeypatch.setattr(memory, 'fitting_windows', key_windows)
  plan = cli._plan_generate  # pylint: disable=protected-access
  jobs = []
  monkeypatch.setattr(cli, '_plan_generate',
                      lambda *a, **k: jobs.append(plan(*a, **k)) or jobs[-1])
  assert cli.main(['generate', str(video_path), '--out',
                   str(tmp_path / 'out'), '--dry-run'] + _FAST) == 0
  assert chosen and jobs
  assert ('in windows of 3 frames (overlap 2, each searching its own frames '
          'and 1 more either side): the whole clip needs about '
          ) in capsys.readouterr().out
  assert jobs[-1].config.window_key_margin == 1
  assert jobs[-1].config.window_frames == 3


def test_refusal_says_windows_do_not_fit_either(tmp_path, video_path, capsys,
                                               monkeypatch):
  from vgpnn_jax import memory  # pylint: disable=g-import-not-at-top
  monkeypatch.setattr(memory, 'available_bytes', lambda: 2**20)  # 1 MiB
  assert cli.main(['generate', str(video_path), '--out', str(tmp_path / 'o'),
                   '--dry-run'] + _FAST) == cli.EXIT_BAD_INPUT
  assert ('; temporal windows do not fit either (windows of 3 frames on the '
          'finest 1 level(s) need about ') in capsys.readouterr().err


def test_window_frames_given_windows_even_when_the_clip_fits(
    tmp_path, video_path, capsys):
  out = tmp_path / 'out'
  assert cli.main(['generate', str(video_path), '--out', str(out),
                   '--window-frames', '4', '--dry-run'] + _FAST) == 0
  assert ('temporal windows: level 2 of 2 (the finest 1) in windows of 4 '
          'frames (overlap 2): --window-frames 4') in capsys.readouterr().out
  assert cli.main(['generate', str(video_path), '--out', str(out),
                   '--window-frames', '2', '--dry-run'] +
                  _FAST) == cli.EXIT_BAD_INPUT
  assert 'use --window-frames 3 or more' in capsys.readouterr().err
  for bad in ('1', 'some', '4.5'):
    with pytest.raises(SystemExit):
      cli.main(['generate', str(video_path), '--window-frames', bad])


def test_verbose_prints_the_devices_and_plan_before_generating(
    tmp_path, video_path, capsys):
  out = tmp_path / 'out'
  assert cli.main(['generate', str(video_path), '--out', str(out), '--num',
                   '1', '--verbose'] + _FAST[:-1]) == 0  # not --quiet
  printed = capsys.readouterr().out
  assert 'devices: ' in printed and 'memory estimate: ' in printed
  plan = printed.index('level  output')
  assert plan < printed.index('  level  1 of 2')  # before the first level
  assert f"writes: {out / 'variation_000.mp4'}" in printed
  with pytest.raises(SystemExit):  # one or the other
    cli.main(['generate', str(video_path), '--quiet', '--verbose'])


def test_no_noise_no_guard_in_the_plan_or_memory(tmp_path, video_path,
                                                 capsys):
  import vgpnn_jax  # pylint: disable=g-import-not-at-top
  from vgpnn_jax import generation  # pylint: disable=g-import-not-at-top
  from vgpnn_jax import memory  # pylint: disable=g-import-not-at-top
  still = vgpnn_jax.make_config(noise_std=0.0, noise_unit='value')
  assert generation.guard_draws(still) == 1
  assert generation.guard_draws(vgpnn_jax.make_config()) == 2
  assert generation.guard_draws(still._replace(noise_std=0.1,
                                               layout_draws=3)) == 3
  out = tmp_path / 'out'
  for noise, guarded in (('0', False), ('0.3', True)):
    assert cli.main(['generate', str(video_path), '--out', str(out), '--num',
                     '2', '--noise', noise, '--dry-run'] + _FAST) == 0
    printed = capsys.readouterr().out
    assert ('structure guard: 2 draws' in printed) == guarded
    config = vgpnn_jax.make_config(
        patch_size=(3, 5, 5), max_levels=2, num_iters=1, search='exact',
        noise_std=float(noise), noise_unit='value')
    levels = vgpnn_jax.plan_levels((6, 18, 24), config)
    gib = memory.estimate_bytes(levels, 3, 2, layout_draws=1 + guarded)
    assert f'memory estimate: {gib / 2**30:.2f} GiB' in printed
  # check_fits follows the same rule: memory for one draw fits without noise.
  one = memory.estimate_bytes(levels, 3, 2, layout_draws=1)
  two = memory.estimate_bytes(levels, 3, 2, layout_draws=2)
  assert two > one
  available = (one + two) / 2 / memory.USABLE_FRACTION
  memory.check_fits(levels, 3, 2, available=available,
                    config=config._replace(noise_std=0.0))
  with pytest.raises(vgpnn_jax.InputError):
    memory.check_fits(levels, 3, 2, available=available, config=config)


def test_dry_run_prints_the_time_estimate(tmp_path, video_path, capsys):
  import vgpnn_jax  # pylint: disable=g-import-not-at-top
  from vgpnn_jax import timing  # pylint: disable=g-import-not-at-top
  assert cli.main(['generate', str(video_path), '--out', str(tmp_path / 'o'),
                   '--num', '3', '--dry-run'] + _FAST) == 0
  printed = capsys.readouterr().out
  config = vgpnn_jax.make_config(patch_size=(3, 5, 5), max_levels=2,
                                 num_iters=1, search='exact')
  levels = vgpnn_jax.plan_levels((6, 18, 24), config)
  seconds = timing.estimate_seconds(levels, 3, config)
  assert f'time estimate: about {seconds:.0f} s' in printed
