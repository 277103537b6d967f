"""Tests of temporal windows at the fine levels (`Config.window_frames`)."""

from unittest import mock

from absl.testing import absltest
from absl.testing import parameterized
import jax
import jax.numpy as jnp
import numpy as np

import vgpnn_jax
from tests import reference
from vgpnn_jax import generation

# Tiny and quick: 12x24x32, 3 levels, 3x5x5 patches, no completeness term
# (whose float ties may differ between a batch and one key), and the mean
# fold: the windows are what these tests check, and the median fold's
# programs take twice as long to compile (the whole file 2x slower).
_BASE = dict(patch_size=(3, 5, 5), min_side=10, max_levels=3, num_iters=2,
             noise_std=0.5, noise_unit='value', alpha=None, reduce='mean')
_SEARCHES = ('exact', 'patchmatch')


def _config(search, **overrides):
  return vgpnn_jax.make_config(search=search, **_BASE, **overrides)


def _video(seed=0):
  return reference.wave_video(12, 24, 32, seed)


class GenerateWindowsTest(parameterized.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.video = _video()
    cls.key = jax.random.key(3)
    cls.plain = {s: np.asarray(vgpnn_jax.generate(cls.key, cls.video,
                                                  _config(s)))
                 for s in _SEARCHES}

  @parameterized.parameters(*_SEARCHES)
  def test_one_window_of_every_frame_is_the_unwindowed_output(self, search):
    # Both windowed levels run through the windows' programs: the finest
    # (12 frames) and the next (11 frames, whose field the finest upscales).
    config = _config(search, window_frames=12, window_levels=2)
    windows = generation.level_windows(
        generation.plan_levels(self.video.shape[:3], config), config)
    self.assertEqual([w and w.starts for w in windows], [(0,), (0,), None])
    out = vgpnn_jax.generate(self.key, self.video, config)
    np.testing.assert_array_equal(out, self.plain[search])

  def test_windows_are_off_by_default_and_their_options_inert_then(self):
    self.assertIsNone(generation.Config().window_frames)
    config = _config('patchmatch', window_overlap=5, window_levels=3)
    levels = generation.plan_levels(self.video.shape[:3], config)
    self.assertEqual(generation.level_windows(levels, config),
                     [None] * len(levels))
    # The programs are today's: no level has a window.
    self.assertEqual(generation._programs(levels, config),  # pylint: disable=protected-access
                     generation._programs(levels, _config('patchmatch')))  # pylint: disable=protected-access
    out = vgpnn_jax.generate(self.key, self.video, config)
    np.testing.assert_array_equal(out, self.plain['patchmatch'])

  def test_windowed_output_shape_values_and_determinism(self):
    config = _config('patchmatch', window_frames=6, window_overlap=2,
                     window_levels=2)
    out = np.asarray(vgpnn_jax.generate(self.key, self.video, config))
    self.assertEqual(out.shape, self.video.shape)
    self.assertTrue(np.all(np.isfinite(out)))
    # Every voxel is a mean of input values, or a blend of two such means.
    self.assertGreaterEqual(out.min(), self.video.min() - 1e-6)
    self.assertLessEqual(out.max(), self.video.max() + 1e-6)
    again = vgpnn_jax.generate(self.key, self.video, config)
    np.testing.assert_array_equal(again, out)
    # Close to the unwindowed output in kind, not in every voxel.
    self.assertFalse(np.array_equal(out, self.plain['patchmatch']))
    other = vgpnn_jax.generate(jax.random.key(4), self.video, config)
    self.assertGreater(float(np.abs(other - out).mean()), 1e-3)

  def test_windowed_batch_equals_one_by_one(self):
    config = _config('patchmatch', window_frames=6, window_overlap=2)
    keys = jax.random.split(self.key, 2)
    batch = vgpnn_jax.generate_batch(keys, self.video, config)
    for key, batched in zip(keys, batch):
      np.testing.assert_allclose(
          vgpnn_jax.generate(key, self.video, config), batched, atol=1e-6)

  def test_a_guides_region_is_refused(self):
    free = np.zeros(self.video.shape[:3], bool)
    free[4:8, 8:16, 8:16] = True
    guide = vgpnn_jax.Guide(free=free, known=self.video)
    with self.assertRaisesRegex(ValueError, 'window_frames=None'):
      vgpnn_jax.generate(self.key, self.video,
                         _config('exact', window_frames=6), guide=guide)


class KeyWindowsTest(parameterized.TestCase):
  """`Config.window_key_margin`: each window searches its own frames' keys."""

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.video = _video(1)
    cls.key = jax.random.key(5)

  @parameterized.parameters(*_SEARCHES)
  def test_every_match_lies_in_its_windows_keys(self, search):
    # One layout draw: each window runs once (the guard draws level 1 twice).
    config = _config(search, window_frames=6, window_overlap=2,
                     window_levels=2, window_key_margin=1, layout_draws=1)
    levels = generation.plan_levels(self.video.shape[:3], config)
    windows = generation.level_windows(levels, config)
    # The two windowed levels search 6 and 8 of their 12 and 11 input frames.
    self.assertEqual([w and w.key_size for w in windows], [8, 8, None])
    seen = []  # (level index, key_frames, field) of each window
    run_level = generation._run_level  # pylint: disable=protected-access

    def recording(programs, options, key, inputs, index, *args, **kwargs):
      output, field = run_level(programs, options, key, inputs, index, *args,
                                **kwargs)
      seen.append((index, kwargs.get('key_frames'), np.asarray(field)))
      return output, field

    with mock.patch.object(generation, '_run_level', recording):
      out = np.asarray(vgpnn_jax.generate(self.key, self.video, config))
    windowed = [(i, frames, f) for i, frames, f in seen if i < 2]
    self.assertLen(windowed, sum(len(w.starts) for w in windows[:2]))
    for index, (first, size), field in windowed:
      self.assertEqual(size, windows[index].key_size)
      # Every match is a key corner of the window's own key frames.
      self.assertGreaterEqual(field[..., 0].min(), 0)
      self.assertLessEqual(field[..., 0].max(),
                           size - levels[index].patch_size[0])
      self.assertIn(first, windows[index].key_starts)
    self.assertTrue(np.all(np.isfinite(out)))
    self.assertGreaterEqual(out.min(), self.video.min() - 1e-6)
    self.assertLessEqual(out.max(), self.video.max() + 1e-6)
    np.testing.assert_array_equal(
        vgpnn_jax.generate(self.key, self.video, config), out)

  def test_a_margin_that_covers_every_frame_is_the_whole_keys(self):
    config = _config('patchmatch', window_frames=6, window_overlap=2,
                     window_levels=2)
    covering = config._replace(window_key_margin=12)
    levels = generation.plan_levels(self.video.shape[:3], config)
    self.assertEqual(generation.level_windows(levels, covering),
                     generation.level_windows(levels, config))
    np.testing.assert_array_equal(
        vgpnn_jax.generate(self.key, self.video, covering),
        vgpnn_jax.generate(self.key, self.video, config))

  @parameterized.parameters((40, 40, 10, 2, 3), (40, 34, 10, 4, 0),
                            (25, 30, 8, 2, 1), (60, 60, 30, 2, 8))
  def test_key_windows_follow_their_windows(self, input_frames, frames, size,
                                            overlap, margin):
    config = generation.make_config(window_frames=size,
                                    window_overlap=overlap,
                                    window_key_margin=margin)
    levels = [generation.Level((input_frames, 20, 20), (frames, 20, 20),
                               (3, 5, 5), 1, 'exact'),
              generation.Level((4, 10, 10), (4, 10, 10), (3, 5, 5), 1,
                               'exact')]
    w = generation.level_windows(levels, config)[0]
    ratio = input_frames / frames
    self.assertEqual(w.key_size, int(np.ceil(size * ratio)) + 2 * margin)
    self.assertLen(w.key_starts, len(w.starts))
    for start, key_start in zip(w.starts, w.key_starts):
      self.assertGreaterEqual(key_start, 0)
      self.assertLessEqual(key_start + w.key_size, input_frames)
      # The window's own span in the input, moved inside it: within reach.
      own = (start * ratio, (start + size) * ratio)
      self.assertLessEqual(key_start, max(own[0], 0) + 1)
      self.assertGreaterEqual(key_start + w.key_size,
                              min(own[1], input_frames) - 1)
    self.assertEqual(list(w.key_starts), sorted(w.key_starts))

  def test_bad_margins(self):
    for margin in (-1, 2.5, 'all'):
      with self.assertRaisesRegex(ValueError,
                                  'window_key_margin must be an integer'):
        vgpnn_jax.make_config(window_frames=6, window_key_margin=margin)
    # An output twice the input's length: 4 output frames span 2 input ones.
    config = vgpnn_jax.make_config(window_frames=4, window_overlap=1,
                                   window_key_margin=0)
    levels = [generation.Level((12, 20, 20), (24, 20, 20), (3, 5, 5), 1,
                               'exact'),
              generation.Level((4, 10, 10), (8, 10, 10), (1, 5, 5), 1,
                               'exact')]
    with self.assertRaisesRegex(ValueError, 'leaves 2 key frames, fewer than '
                                'the 3-frame patch.*give a larger margin'):
      generation.level_windows(levels, config)
    self.assertEqual(generation.level_windows(
        levels, config._replace(window_key_margin=1))[0].key_size, 4)


class LevelWindowsTest(parameterized.TestCase):

  @parameterized.parameters((12, 6, 2), (21, 8, 2), (11, 6, 2), (30, 7, 0),
                            (9, 20, 3))
  def test_windows_cover_every_frame_with_one_size(self, frames, size,
                                                   overlap):
    config = generation.make_config(window_frames=size,
                                    window_overlap=overlap, window_levels=1)
    levels = [generation.Level((frames, 20, 20), (frames, 20, 20), (3, 5, 5),
                               1, 'exact'),
              generation.Level((4, 10, 10), (4, 10, 10), (3, 5, 5), 1,
                               'exact')]
    windows = generation.level_windows(levels, config)
    self.assertIsNone(windows[1])  # the coarsest level runs whole
    w = windows[0]
    self.assertEqual(w.size, min(size, frames))
    self.assertEqual(w.starts[0], 0)
    self.assertEqual(w.starts[-1] + w.size, frames)
    starts = np.asarray(w.starts)
    self.assertTrue(np.all(np.diff(starts) > 0))
    # Neighbours share at least `overlap` frames and leave no gap.
    self.assertTrue(np.all(starts[:-1] + w.size - starts[1:] >= overlap))

  def test_never_the_coarsest_level(self):
    config = generation.make_config(window_frames=4, window_levels=5)
    levels = generation.plan_levels((12, 24, 32), config._replace(
        patch_size=(3, 5, 5), min_side=10, max_levels=3))
    windows = generation.level_windows(levels, config)
    self.assertEqual([w is not None for w in windows], [True, True, False])

  @parameterized.parameters((12, 6, 2, 3), (21, 8, 2, 3), (13, 5, 1, 1),
                            (11, 6, 3, 3))
  def test_weights_ramp_in_overlaps_and_own_each_corner_once(
      self, frames, size, overlap, patch_frames):
    w = generation.level_windows(
        [generation.Level((frames, 9, 9), (frames, 9, 9),
                          (patch_frames, 3, 3), 1, 'exact'), None],
        generation.make_config(window_frames=size,
                               window_overlap=overlap))[0]
    ramps, owned = generation.window_weights(w, patch_frames)
    self.assertEqual(ramps.shape, (len(w.starts), size))
    self.assertEqual(owned.shape, (len(w.starts), size - patch_frames + 1))
    np.testing.assert_array_equal(ramps[0], 1)
    for k in range(1, len(w.starts)):
      shared = w.starts[k - 1] + size - w.starts[k]
      np.testing.assert_allclose(
          ramps[k, :shared], (np.arange(shared) + 1) / (shared + 1))
      np.testing.assert_array_equal(ramps[k, shared:], 1)
    counts = np.zeros(frames - patch_frames + 1, int)
    for k, start in enumerate(w.starts):
      counts[start:start + owned.shape[1]] += owned[k]
    np.testing.assert_array_equal(counts, 1)


def _fake_windows(frames, size, overlap, batched, channels=2):
  """`_run_windows` on windows whose 'fold' is random: the level's output
  and field, and each window's output and field."""
  patch = (3, 3, 3)
  w = generation.level_windows(
      [generation.Level((frames, 4, 5), (frames, 4, 5), patch, 1, 'exact'),
       None],
      generation.make_config(window_frames=size, window_overlap=overlap))[0]
  batch = (2,) if batched else ()
  made = {}

  def run(programs, key, coarser, drop, key_frames=None):
    del key, drop, key_frames
    first = int(programs[0]())
    assert coarser == ['coarse output', 'coarse field']
    rng = np.random.default_rng(first)
    made[first] = (
        rng.uniform(size=batch + (size, 4, 5, channels)).astype(np.float32),
        rng.integers(0, 50, size=batch + (size - 2, 2, 3, 3)).astype(
            np.int32))
    return tuple(jnp.asarray(x) for x in made[first])

  keys = jax.random.split(jax.random.key(0), 2) if batched else (
      jax.random.key(0))
  output, field = generation._run_windows(  # pylint: disable=protected-access
      run, (lambda first, key_first: first, None, None, None), w, patch[0], keys,
      ['coarse output', 'coarse field'], batched, False)
  return w, np.asarray(output), np.asarray(field), made


class BlendTest(parameterized.TestCase):

  @parameterized.product(layout=((12, 6, 2), (16, 6, 1), (10, 4, 2)),
                         batched=(False, True))
  def test_blend_and_field_assembly(self, layout, batched):
    frames, size, overlap = layout
    w, output, field, made = _fake_windows(frames, size, overlap, batched)
    axis = 1 if batched else 0
    take = lambda x, index: np.take(x, index, axis=axis)
    self.assertEqual(output.shape[axis], frames)
    self.assertEqual(field.shape[axis], frames - 2)
    covering = [[k for k, s in enumerate(w.starts) if s <= t < s + size]
                for t in range(frames)]
    for t, ks in enumerate(covering):
      values = [take(made[w.starts[k]][0], t - w.starts[k]) for k in ks]
      if len(ks) == 1:
        # Outside the overlaps: exactly what the window folded.
        np.testing.assert_array_equal(take(output, t), values[0])
      else:
        self.assertLen(ks, 2)  # these layouts share frames pairwise
        low, high = np.minimum(*values), np.maximum(*values)
        self.assertTrue(np.all(take(output, t) >= low - 1e-6))
        self.assertTrue(np.all(take(output, t) <= high + 1e-6))
        # The later window's weight rises through the overlap.
        later = w.starts[ks[1]]
        shared = w.starts[ks[0]] + size - later
        weight = (t - later + 1) / (shared + 1)
        np.testing.assert_allclose(
            take(output, t), (1 - weight) * values[0] + weight * values[1],
            atol=1e-6)
    _, owned = generation.window_weights(w, 3)
    for k, start in enumerate(w.starts):
      for j in np.flatnonzero(owned[k]):
        np.testing.assert_array_equal(take(field, start + j),
                                      take(made[start][1], j))

  def test_shifted_last_window_overlaps_more(self):
    w, output, _, made = _fake_windows(13, 6, 2, False)
    self.assertEqual(w.starts, (0, 4, 7))
    # Frames 7-9 are shared by the last two windows, 4-5 by the first two.
    np.testing.assert_array_equal(output[:4], made[0][0][:4])
    np.testing.assert_array_equal(output[6], made[4][0][2])
    np.testing.assert_array_equal(output[10:], made[7][0][3:])


class ConfigTest(absltest.TestCase):

  def test_bad_window_options(self):
    for overrides, message in (
        (dict(window_frames=0), 'window_frames must be an integer >= 1'),
        (dict(window_frames=2.5), 'window_frames must be an integer >= 1'),
        (dict(window_frames=6, window_overlap=6),
         r'window_overlap \(6\) must be smaller than window_frames \(6\)'),
        (dict(window_frames=6, window_overlap=-1),
         'window_overlap must be an integer >= 0'),
        (dict(window_frames=6, window_levels=0),
         'window_levels must be an integer >= 1')):
      with self.assertRaisesRegex(ValueError, message):
        vgpnn_jax.make_config(**overrides)

  def test_a_window_shorter_than_the_patch_names_the_fix(self):
    config = vgpnn_jax.make_config(window_frames=2, window_overlap=1,
                                   patch_size=(3, 5, 5), min_side=10,
                                   max_levels=3)
    with self.assertRaisesRegex(ValueError, 'use window_frames >= 3'):
      generation.level_windows(
          generation.plan_levels((12, 24, 32), config), config)
    with self.assertRaisesRegex(ValueError, 'use window_frames >= 3'):
      vgpnn_jax.generate(jax.random.key(0), _video(), config)


if __name__ == '__main__':
  absltest.main()
