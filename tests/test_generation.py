"""Tests of the coarse-to-fine driver: shapes, determinism, vmap, jit, errors."""

from absl.testing import absltest
import jax
import numpy as np

import vgpnn_jax
from tests import reference
from vgpnn_jax import errors
from vgpnn_jax import generation
from vgpnn_jax import pnn

# Small and fast: 3 levels, exact search, 3x5x5 patches.
_CONFIG = vgpnn_jax.make_config(patch_size=(3, 5, 5), min_side=10,
                                max_levels=3, num_iters=2, search='exact',
                                noise_std=0.5, noise_unit='value')


def _video(seed=0):
  return reference.wave_video(5, 16, 20, seed)


class GenerateTest(absltest.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.video = _video()
    cls.keys = jax.random.split(jax.random.key(42), 3)
    cls.batch = vgpnn_jax.generate_batch(cls.keys, cls.video, _CONFIG)

  def test_shape_and_range(self):
    self.assertEqual(self.batch.shape, (3,) + self.video.shape)
    self.assertTrue(np.all(np.isfinite(self.batch)))
    # Every output value is a median of input values.
    self.assertGreaterEqual(float(self.batch.min()), float(self.video.min()))
    self.assertLessEqual(float(self.batch.max()), float(self.video.max()))

  def test_batch_equals_one_by_one(self):
    for key, batched in zip(self.keys, self.batch):
      single = vgpnn_jax.generate(key, self.video, _CONFIG)
      np.testing.assert_allclose(single, batched, atol=1e-6)

  def test_batch_of_one_runs_unbatched_with_batch_shaped_progress(self):
    shapes = []
    one = vgpnn_jax.generate_batch(
        self.keys[:1], self.video, _CONFIG,
        progress=lambda done, num, level, output: shapes.append(output.shape))
    np.testing.assert_array_equal(
        one, vgpnn_jax.generate(self.keys[0], self.video, _CONFIG)[None])
    np.testing.assert_allclose(one[0], self.batch[0], atol=1e-6)
    self.assertLen(shapes, 3)
    self.assertTrue(all(s[0] == 1 and len(s) == 5 for s in shapes))

  def test_vmap_and_jit_of_generate_equal_the_batch(self):
    fn = jax.jit(jax.vmap(lambda k: vgpnn_jax.generate(k, self.video,
                                                       _CONFIG)))
    np.testing.assert_allclose(fn(self.keys), self.batch, atol=1e-6)

  def test_same_key_same_output_different_keys_differ(self):
    again = vgpnn_jax.generate_batch(self.keys, self.video, _CONFIG)
    np.testing.assert_array_equal(again, self.batch)
    self.assertGreater(float(np.abs(self.batch[0] - self.batch[1]).mean()),
                       1e-3)

  def test_no_noise_reconstructs_the_input(self):
    out = vgpnn_jax.generate(jax.random.key(0), self.video, _CONFIG,
                             noise_std=0.0)
    np.testing.assert_allclose(out, self.video, atol=1e-5)

  def test_retargeting_scale(self):
    out = vgpnn_jax.generate(jax.random.key(0), self.video, _CONFIG,
                             scale=(1.0, 1.0, 1.5), noise_std=0.0)
    self.assertEqual(out.shape, (5, 16, 30, 3))

  def test_progress_is_called_per_level(self):
    calls = []
    vgpnn_jax.generate(jax.random.key(1), self.video, _CONFIG,
                       progress=lambda *args: calls.append(args[:2]))
    self.assertEqual(calls, [(0, 3), (1, 3), (2, 3)])


class PlanTest(absltest.TestCase):

  def test_reference_defaults(self):
    levels = vgpnn_jax.plan_levels((13, 144, 256), vgpnn_jax.make_config())
    self.assertLen(levels, 15)
    self.assertEqual(levels[0].patch_size, (3, 7, 7))
    self.assertEqual([l.num_iters for l in levels], [5] * 14 + [1])
    self.assertEqual(levels[-1].search, 'exact')  # cheap at the coarsest
    self.assertEqual(levels[0].search, 'patchmatch')

  def test_finest_iters(self):
    config = vgpnn_jax.make_config(num_iters=3, finest_iters=[1, 2])
    levels = vgpnn_jax.plan_levels((13, 144, 256), config)
    self.assertEqual([l.num_iters for l in levels], [1, 2] + [3] * 12 + [1])
    with self.assertRaisesRegex(ValueError, 'finest_iters'):
      vgpnn_jax.make_config(finest_iters=(0,))

  def test_vote_weights_act_on_the_coarsest_weight_levels(self):
    config = vgpnn_jax.make_config(known_weight=4, weight_levels=3)
    self.assertEqual(config.known_weight, 4.0)
    levels = vgpnn_jax.plan_levels((13, 144, 256), config)
    programs = generation._programs(levels, config)
    self.assertEqual([p.options.known_weight for p in programs],
                     [0.0] * (len(levels) - 3) + [4.0] * 3)
    # Off by default: the plain step's options, unchanged.
    plain = generation._programs(levels, vgpnn_jax.make_config())
    self.assertEqual({p.options.known_weight for p in plain}, {0.0})
    self.assertEqual({p.options.match_weight for p in plain}, {0.0})
    for name, value in (('known_weight', -1), ('match_weight', float('inf')),
                        ('known_weight', 'x'), ('weight_levels', -1),
                        ('weight_levels', 1.5)):
      with self.assertRaisesRegex(ValueError, name):
        vgpnn_jax.make_config(**{name: value})

  def test_auto_search_follows_the_cost_threshold(self):
    size = (13, 144, 256)
    for threshold in (0.0, 1e9, 5e10, float('inf')):
      config = vgpnn_jax.make_config(auto_exact_flops=threshold)
      for level in vgpnn_jax.plan_levels(size, config):
        cost = pnn.exact_cost(level.output_size, level.input_size,
                              level.patch_size, 3)
        self.assertEqual(level.search,
                         'exact' if cost <= threshold else 'patchmatch')
    searches = [l.search for l in vgpnn_jax.plan_levels(
        size, vgpnn_jax.make_config(auto_exact_flops=1e9))]
    self.assertIn('exact', searches)
    self.assertIn('patchmatch', searches)
    with self.assertRaisesRegex(ValueError, 'auto_exact_flops'):
      vgpnn_jax.make_config(auto_exact_flops=-1.0)

  def test_alpha_acts_on_the_coarsest_exact_levels(self):
    # 15 levels at 13x144x256: exact on the coarse ones, PatchMatch above.
    size = (13, 144, 256)
    for alpha_levels, want in ((5, 5), (2, 2), (0, 0), (None, 7)):
      config = vgpnn_jax.make_config(alpha_levels=alpha_levels)
      levels = vgpnn_jax.plan_levels(size, config)
      expected = [1.0 if l.search == 'exact' and
                  (alpha_levels is None or i >= len(levels) - alpha_levels)
                  else None for i, l in enumerate(levels)]
      self.assertEqual([l.alpha for l in levels], expected)
      self.assertEqual(sum(a is not None for a in expected), want)
      options = [generation._step_options(l, config) for l in levels]
      self.assertEqual([o.alpha for o in options], expected)
      for o in options:
        pnn.check_options(o)  # what compiling the level would raise on
    # PatchMatch everywhere: the term has no level to act on, and is no error.
    levels = vgpnn_jax.plan_levels(size, vgpnn_jax.make_config(
        search='patchmatch', alpha=0.5))
    self.assertEqual({l.alpha for l in levels}, {None})
    levels = vgpnn_jax.plan_levels(size, vgpnn_jax.make_config(alpha=None))
    self.assertEqual({l.alpha for l in levels}, {None})
    with self.assertRaisesRegex(ValueError, 'alpha must be positive'):
      vgpnn_jax.make_config(alpha=0.0)
    with self.assertRaisesRegex(ValueError, 'alpha_levels'):
      vgpnn_jax.make_config(alpha_levels=-1)

  def test_alpha_under_auto_generates_and_has_an_effect(self):
    video = _video()
    config = _CONFIG._replace(search='auto', auto_exact_flops=3e7)
    searches = {l.search for l in vgpnn_jax.plan_levels(video.shape[:3],
                                                        config)}
    self.assertEqual(searches, {'exact', 'patchmatch'})
    key = jax.random.key(3)
    plain = vgpnn_jax.generate(key, video, config, alpha=None)
    with_alpha = vgpnn_jax.generate(key, video, config, alpha=0.01)
    self.assertEqual(with_alpha.shape, video.shape)
    self.assertTrue(np.all(np.isfinite(with_alpha)))
    self.assertGreater(float(np.abs(plain - with_alpha).max()), 1e-3)

  def test_large_output_rules(self):
    levels = vgpnn_jax.plan_levels((13, 720, 1280), vgpnn_jax.make_config())
    self.assertEqual(levels[0].num_iters, 1)  # 12 M voxels > 3 M
    self.assertEqual(levels[0].patch_size, (3, 5, 5))  # > 7.5 M
    small = [l for l in levels if np.prod(l.output_size) <= 3e6]
    self.assertTrue(all(l.num_iters == 5 for l in small[:-1]))

  def test_images_get_2d_patches(self):
    levels = vgpnn_jax.plan_levels((1, 60, 80), vgpnn_jax.make_config())
    self.assertEqual(levels[0].patch_size, (1, 7, 7))

  def test_the_noise_keys_only_the_coarsest_start(self):
    # Another noise (a diversity sweep) compiles one start program, not one
    # per level: only the coarsest level draws noise.
    levels = vgpnn_jax.plan_levels((13, 144, 256), vgpnn_jax.make_config())
    programs = [
        generation._programs(  # pylint: disable=protected-access
            levels, vgpnn_jax.make_config(noise_std=noise, noise_unit=unit))
        for noise, unit in ((5.0, 'patch_spread'), (0.3, 'value'))]
    self.assertEqual(programs[0][:-1], programs[1][:-1])
    self.assertNotEqual(programs[0][-1], programs[1][-1])
    self.assertEqual(programs[0][-1].noise_std, 5.0)

  def test_bad_inputs(self):
    config = vgpnn_jax.make_config()
    with self.assertRaisesRegex(errors.InputError, 'fewer than the 3-frame'):
      vgpnn_jax.plan_levels((2, 144, 256), config)
    with self.assertRaisesRegex(errors.InputError, 'smaller than the'):
      vgpnn_jax.plan_levels((13, 6, 256), config)
    with self.assertRaisesRegex(errors.InputError, 'cannot hold one'):
      vgpnn_jax.plan_levels((13, 144, 256), config._replace(
          scale=(1.0, 0.3, 1.0)))
    with self.assertRaisesRegex(errors.InputError, 'shape'):
      vgpnn_jax.generate(jax.random.key(0), np.zeros((8, 8, 3), np.float32))
    with self.assertRaisesRegex(TypeError, 'unknown option'):
      vgpnn_jax.make_config(noise=1.0)
    with self.assertRaisesRegex(ValueError, 'search'):
      vgpnn_jax.make_config(search='faiss')

  def test_bad_config_values(self):
    for noise in (float('nan'), float('inf'), 1e30, -1.0, 1000.5):
      with self.assertRaisesRegex(ValueError, 'noise_std must be a number '
                                  'from 0 to 1000'):
        vgpnn_jax.make_config(noise_std=noise)
    vgpnn_jax.make_config(noise_std=1000.0, noise_unit='patch_spread')
    for scale in ((float('nan'), 1, 1), (1, 1, float('inf')), (1, 0, 1),
                  (1, 1)):
      with self.assertRaisesRegex(ValueError, 'scale must be three positive '
                                  'finite'):
        vgpnn_jax.make_config(scale=scale)
    for levels in (0, -1):
      with self.assertRaisesRegex(ValueError, 'max_levels must be >= 1'):
        vgpnn_jax.make_config(max_levels=levels)
    with self.assertRaisesRegex(errors.InputError, 'positive finite'):
      vgpnn_jax.output_sizes([(5, 16, 20)], (1.0, 1.0, float('nan')))



class InputChecksTest(absltest.TestCase):
  """What `generate` and `generate_batch` refuse, with which message."""

  def setUp(self):
    super().setUp()
    self.video = _video()
    self.keys = jax.random.split(jax.random.key(42), 3)

  def test_bad_video_values(self):
    key = jax.random.key(0)
    bad = {'NaN or infinite': self.video.copy(),
           'up to 2[0-9.]+, .*divide 8-bit values': self.video * 255,
           'down to -0?[.0-9]+, .*\\(video \\+ 1\\) / 2': self.video * 2 - 1}
    bad['NaN or infinite'][0, 0, 0, 0] = np.nan
    infinite = self.video.copy()
    infinite[2, 3, 4, 1] = np.inf
    for message, video in list(bad.items()) + [('NaN or infinite',
                                                 infinite)]:
      with self.assertRaisesRegex(errors.InputError, message):
        vgpnn_jax.generate(key, video, _CONFIG)
      with self.assertRaisesRegex(errors.InputError, message):
        vgpnn_jax.generate_batch(self.keys, video, _CONFIG)
    # A resize's small overshoot passes; traced values are not checked.
    generation.check_video_values(np.full((3, 4, 4, 3), 1.2, np.float32))
    generation.check_video_values(np.full((3, 4, 4, 3), -0.2, np.float32))
    jax.jit(generation.check_video_values)(self.video * 255)

  def test_shape_messages(self):
    key = jax.random.key(0)
    with self.assertRaisesRegex(errors.InputError, 'lacks|channel axis'):
      vgpnn_jax.generate(key, self.video[..., 0])
    with self.assertRaisesRegex(errors.InputError, 'frame axis'):
      vgpnn_jax.generate(key, self.video[0])
    with self.assertRaisesRegex(errors.InputError, 'frame and channel'):
      vgpnn_jax.generate(key, self.video[0, ..., 0])
    with self.assertRaisesRegex(errors.InputError, 'empty') as raised:
      vgpnn_jax.generate(key, self.video[:0])
    self.assertNotIn('1 frames', str(raised.exception))
    with self.assertRaisesRegex(errors.InputError, 'empty'):
      vgpnn_jax.plan_levels((0, 16, 20), _CONFIG)

  def test_bad_keys(self):
    with self.assertRaisesRegex(TypeError, 'jax.random.key\\(seed\\)'):
      vgpnn_jax.generate(0, self.video, _CONFIG)
    with self.assertRaisesRegex(TypeError, 'jax.random.split'):
      vgpnn_jax.generate_batch(np.arange(3), self.video, _CONFIG)
    with self.assertRaisesRegex(ValueError, 'jax.random.split'):
      vgpnn_jax.generate_batch(jax.random.key(0), self.video, _CONFIG)
    with self.assertRaisesRegex(ValueError, 'use generate_batch'):
      vgpnn_jax.generate(self.keys, self.video, _CONFIG)
    # Raw uint32 keys still work, one [2] or a batch [N, 2].
    raw = jax.random.PRNGKey(42)
    self.assertEqual(vgpnn_jax.generate(raw, self.video, _CONFIG).shape,
                     self.video.shape)

  def test_key_for_seed(self):
    for seed in (0, 1, 12345, 2**31, 2**32 - 1):  # as before: jax's own key
      np.testing.assert_array_equal(
          jax.random.key_data(generation.key_for_seed(seed)),
          jax.random.key_data(jax.random.key(seed)))
    seeds = (0, 1, 2**32 - 1, 2**32, 2**32 + 1, 2**33, 2**63, 2**64,
             2**64 + 1, 2**100)
    data = {tuple(np.asarray(jax.random.key_data(
        generation.key_for_seed(s)))) for s in seeds}
    self.assertLen(data, len(seeds))  # all distinct
    with self.assertRaisesRegex(ValueError, 'seed must be >= 0'):
      generation.key_for_seed(-1)
    with self.assertRaises(TypeError):
      generation.key_for_seed(1.5)


if __name__ == '__main__':
  absltest.main()


def test_a_single_image_gets_the_image_methods_defaults():
  config = generation.default_config(1)
  assert config.patch_size == (1, 7, 7) and config.space_factor == 0.75
  assert (config.max_levels, config.noise_std, config.num_iters,
          config.reduce, config.keys_rule) == (9, 0.75, 10, 'mean', 'gpnn')
  assert config.alpha is None
  assert generation.default_config(1, (1, 1, 0.6)).alpha == (
      generation.IMAGE_RETARGET_ALPHA)
  assert generation.default_config(5) == generation.Config()
  rng = np.random.default_rng(0)
  image = rng.random((1, 20, 24, 3)).astype(np.float32)
  key = jax.random.key(0)
  out = generation.generate(key, image, search='exact')
  np.testing.assert_array_equal(
      out, generation.generate(key, image, config._replace(search='exact')))
  assert not np.array_equal(
      out, generation.generate(key, image, generation.Config(search='exact')))


# The cue tests' generations: the mean fold, whose programs compile in half
# the median's time (this class took 139 s of CPU with the median, 72 s with
# the mean); the cues are what they check.
_CUE_CONFIG = vgpnn_jax.make_config(_CONFIG, reduce='mean')


class CueTest(absltest.TestCase):
  """`Guide.query_cue` / `key_cue`: extra channels the search matches by."""

  def _halves(self):
    """A video red on the left, blue on the right, and a cue of the right."""
    video = np.zeros((5, 16, 20, 3), np.float32)
    video[:, :, :10, 0] = 0.8
    video[:, :, 10:, 2] = 0.8
    right = np.zeros((5, 16, 20, 1), np.float32)
    right[:, :, 10:] = 1.0
    return video, right

  def test_no_cue_levels_is_a_plain_generation(self):
    video = _video()
    key = jax.random.key(3)
    cue = np.random.default_rng(0).random(video.shape[:3] + (1,))
    guide = generation.Guide(query_cue=cue, key_cue=cue[::-1], cue_levels=0)
    np.testing.assert_array_equal(
        vgpnn_jax.generate(key, video, _CUE_CONFIG, guide=guide),
        vgpnn_jax.generate(key, video, _CUE_CONFIG))

  def test_a_strong_cue_swaps_the_halves(self):
    # The queries' cue marks the left half, the keys' the right: with the
    # cue outweighing the colours on every level, the left half is rendered
    # with the right half's (blue) patches and the right with red ones. (No
    # completeness term: it would spread the choice over all keys.)
    video, right = self._halves()
    guide = generation.Guide(query_cue=10 * (1 - right), key_cue=10 * right,
                             cue_levels=3)
    for search in ('exact', 'patchmatch'):
      out = np.asarray(vgpnn_jax.generate(
          jax.random.key(0), video, _CUE_CONFIG, guide=guide, noise_std=0.0,
          alpha=None, search=search, num_iters=3))
      self.assertEqual(out.shape, video.shape)
      # Away from the seam (a patch wide) the colours are swapped exactly.
      np.testing.assert_allclose(out[:, :, :7], video[:, :, 13:], atol=1e-6,
                                 err_msg=search)
      np.testing.assert_allclose(out[:, :, 13:], video[:, :, :7], atol=1e-6,
                                 err_msg=search)

  def test_the_cue_acts_only_on_the_coarse_levels_given(self):
    # The cue on the coarsest level only: the finer levels (no noise, as
    # sharp keys as queries after the first iteration) keep the swapped
    # layout set there.
    video, right = self._halves()
    guide = generation.Guide(query_cue=10 * (1 - right), key_cue=10 * right,
                             cue_levels=1)
    self.assertEqual(generation.cue_level_count(guide, 3), 1)
    self.assertEqual(generation.cue_level_count(guide._replace(
        cue_levels=None), 5), 3)
    out = np.asarray(vgpnn_jax.generate(jax.random.key(0), video, _CUE_CONFIG,
                                        guide=guide, noise_std=0.0,
                                        alpha=None))
    self.assertGreater(out[:, :, :7, 2].mean(), 0.7)
    self.assertGreater(out[:, :, 13:, 0].mean(), 0.7)

  def test_batched_cue_run_equals_one_by_one(self):
    video, right = self._halves()
    guide = generation.Guide(query_cue=1 - right, key_cue=right)
    keys = jax.random.split(jax.random.key(1), 2)
    batch = vgpnn_jax.generate_batch(keys, _video(), _CUE_CONFIG, guide=guide)
    for k, out in zip(keys, batch):
      np.testing.assert_allclose(
          out, vgpnn_jax.generate(k, _video(), _CUE_CONFIG, guide=guide),
          atol=1e-6)

  def test_bad_cues(self):
    video, right = self._halves()
    with self.assertRaisesRegex(ValueError, 'both query_cue and key_cue'):
      vgpnn_jax.generate(jax.random.key(0), video, _CUE_CONFIG,
                         guide=generation.Guide(query_cue=right))
    with self.assertRaisesRegex(errors.InputError, 'key cue.*input size'):
      vgpnn_jax.generate(jax.random.key(0), video, _CUE_CONFIG,
                         guide=generation.Guide(query_cue=right,
                                                key_cue=right[:4]))
    with self.assertRaisesRegex(ValueError, 'cue_levels'):
      vgpnn_jax.generate(jax.random.key(0), video, _CUE_CONFIG,
                         guide=generation.Guide(query_cue=right,
                                                key_cue=right, cue_levels=-1))


def test_timer_extrapolates_the_time_left_from_the_plan(monkeypatch):
  levels = vgpnn_jax.plan_levels((13, 144, 256), vgpnn_jax.make_config())
  # Every level takes 1 s whatever its work (as compiling, on a first run):
  # the time left is then 1 s per level to come, not the seconds per unit of
  # work of the tiny coarse levels times the fine levels' work.
  clock = iter(np.arange(0.0, 100.0))  # Timer start, then one per level
  monkeypatch.setattr(generation.time, 'perf_counter', lambda: next(clock))
  lines = []
  timer = generation.Timer(lines.append, levels=levels)
  for done, level in enumerate(levels[::-1]):
    timer(done, len(levels), level, np.zeros(()))
  for done, line in enumerate(lines):
    if done in (0, len(levels) - 1):
      assert 'left' not in line, line
      continue
    want = len(levels) - done - 1
    assert line.endswith(f'about {want} s left'), (line, want)
  assert all('left' not in line for line in _timer_lines_without_plan())


def test_seconds_left_is_the_nonnegative_least_squares_fit():
  """a + b * work, a, b >= 0, fitted as scipy's NNLS fits it."""
  from scipy import optimize  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(0)
  work = generation.level_work(
      vgpnn_jax.plan_levels((13, 144, 256), vgpnn_jax.make_config()))
  for trial in range(40):
    # From 2 levels on (the time left is shown from then): with 1 any a, b
    # on a line fit, and the fixed cost alone is taken.
    done = int(rng.integers(2, len(work)))
    a, b = rng.uniform(0, 5) * (trial % 3 != 0), rng.uniform(0, 1e-5)
    seconds = np.maximum(
        a + b * np.asarray(work[:done]) + rng.normal(0, 2, done), 0)
    fit, _ = optimize.nnls(
        np.stack([np.ones(done), np.asarray(work[:done], float)], 1), seconds)
    want = fit[0] * (len(work) - done) + fit[1] * sum(work[done:])
    got = generation.seconds_left(seconds, work)
    assert abs(got - want) <= 1e-6 * max(1.0, want), (trial, got, want)
  # Levels that follow the model exactly are extrapolated exactly.
  seconds = [3.0 + 2e-6 * w for w in work[:5]]
  want = sum(3.0 + 2e-6 * w for w in work[5:])
  assert abs(generation.seconds_left(seconds, work) - want) < 1e-6 * want


def _timer_lines_without_plan():
  lines = []
  timer = generation.Timer(lines.append)
  for done, level in enumerate(vgpnn_jax.plan_levels(
      (13, 144, 256), vgpnn_jax.make_config())[::-1]):
    timer(done, 15, level, np.zeros(()))
  return lines
