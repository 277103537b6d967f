"""Tests of the structure guard: `Config.layout_draws` and `guard_level`."""

import jax
import numpy as np
import pytest

import vgpnn_jax
from vgpnn_jax import generation
from tests import reference

# Small and fast: 3 levels, exact search, 3x5x5 patches, noise high enough
# for the draws to differ.
_CONFIG = vgpnn_jax.make_config(patch_size=(3, 5, 5), min_side=10,
                                max_levels=3, num_iters=2, search='exact',
                                noise_std=0.5, noise_unit='value')


def _video(seed=0):
  rng = np.random.default_rng(seed)
  t = np.linspace(0, 1, 5)[:, None, None, None]
  y = np.linspace(0, 1, 16)[None, :, None, None]
  x = np.linspace(0, 1, 20)[None, None, :, None]
  video = 0.5 + 0.3 * np.sin(6 * x + 4 * y + 3 * t + np.array([1., 2., 3.]))
  return np.clip(video + 0.05 * rng.normal(size=video.shape), 0,
                 1).astype(np.float32)


def _level_outputs(key, video, config):
  """[output at each level, coarsest first] of one generation."""
  outputs = []
  final = vgpnn_jax.generate(key, video, config, progress=lambda d, n, l, o:
                             outputs.append(np.asarray(o)))
  return outputs, np.asarray(final)


def test_layout_coherence_equals_numpy():
  rng = np.random.default_rng(0)
  output = rng.random((4, 9, 11, 3)).astype(np.float32)
  values = rng.random((5, 8, 10, 3)).astype(np.float32)
  patch = (2, 3, 3)
  queries = reference.unfold(output, patch).reshape(-1, 2 * 3 * 3 * 3)
  keys = reference.unfold(values, patch).reshape(-1, 2 * 3 * 3 * 3)
  distances = ((queries[:, None] - keys[None]) ** 2).sum(-1).min(1)
  want = distances.mean() / queries.shape[1]
  got = float(generation.layout_coherence(output, values, patch))
  np.testing.assert_allclose(got, want, rtol=1e-4)
  # Strided to at most 50 queries: every ceil(Q / 50)-th in raster order.
  stride = -(-len(queries) // 50)
  np.testing.assert_allclose(
      float(generation.layout_coherence(output, values, patch,
                                        max_queries=50)),
      distances[::stride].mean() / queries.shape[1], rtol=1e-4)
  assert float(generation.layout_coherence(values, values, patch)) < 1e-6


@pytest.mark.parametrize('guard_level', [0, 1])
def test_the_kept_layout_is_never_worse_than_the_first_draw(guard_level):
  video = _video()
  guarded = _CONFIG._replace(layout_draws=4, guard_level=guard_level)
  values = vgpnn_jax.build_pyramid(
      video, sizes=tuple(l.input_size for l in
                         vgpnn_jax.plan_levels(video.shape[:3], _CONFIG)))
  values = values[len(values) - 1 - guard_level]
  patch = vgpnn_jax.plan_levels(video.shape[:3],
                                _CONFIG)[-1 - guard_level].patch_size
  improved = 0
  for seed in range(4):
    key = jax.random.key(seed)
    first, first_final = _level_outputs(key, video, _CONFIG)
    kept, _ = _level_outputs(key, video, guarded)
    score = lambda o: float(generation.layout_coherence(o, values, patch))
    assert score(kept[guard_level]) <= score(first[guard_level]) + 1e-9
    improved += score(kept[guard_level]) < score(first[guard_level])
    if np.array_equal(kept[guard_level], first[guard_level]):
      # The first draw kept: the rest of the run is the unguarded one.
      np.testing.assert_array_equal(
          np.asarray(vgpnn_jax.generate(key, video, guarded)), first_final)
  assert improved >= 1  # the other draws do differ and sometimes win


def test_one_draw_is_no_guard_and_the_guard_is_deterministic():
  video = _video(1)
  key = jax.random.key(3)
  plain = np.asarray(vgpnn_jax.generate(key, video, _CONFIG))
  for level in (0, 1, 7):
    np.testing.assert_array_equal(
        np.asarray(vgpnn_jax.generate(
            key, video, _CONFIG._replace(layout_draws=1, guard_level=level))),
        plain)
  guarded = _CONFIG._replace(layout_draws=3, guard_level=1)
  once = np.asarray(vgpnn_jax.generate(key, video, guarded))
  np.testing.assert_array_equal(
      np.asarray(vgpnn_jax.generate(key, video, guarded)), once)
  # A guard level past the finest is the finest.
  np.testing.assert_array_equal(
      np.asarray(vgpnn_jax.generate(key, video,
                                    guarded._replace(guard_level=9))),
      np.asarray(vgpnn_jax.generate(key, video,
                                    guarded._replace(guard_level=2))))


def test_guarded_batch_equals_one_by_one():
  video = _video(2)
  keys = jax.random.split(jax.random.key(5), 3)
  guarded = _CONFIG._replace(layout_draws=3, guard_level=1)
  batch = np.asarray(vgpnn_jax.generate_batch(keys, video, guarded))
  for key, out in zip(keys, batch):
    np.testing.assert_allclose(
        np.asarray(vgpnn_jax.generate(key, video, guarded)), out, atol=1e-6)


@pytest.mark.parametrize('field, value', [
    ('layout_draws', 0), ('layout_draws', 1.5), ('guard_level', -1)])
def test_bad_guard_settings_are_refused(field, value):
  with pytest.raises(ValueError, match=field):
    vgpnn_jax.make_config(**{field: value})


def test_defaults_guard_videos_only_and_never_without_noise(monkeypatch):
  assert vgpnn_jax.make_config().layout_draws == 2
  assert generation.default_config(1).layout_draws == 1  # images
  from vgpnn_jax import analogy, edit  # pylint: disable=g-import-not-at-top
  for defaults in (edit.INPAINT_DEFAULTS, edit.EDIT_DEFAULTS,
                   analogy.ANALOGY_DEFAULTS, analogy.SKETCH_DEFAULTS):
    assert edit.application_config(None, defaults, {}, 5).layout_draws == 1
  # With no noise the draws are one layout: one is drawn, never scored.
  video = _video()
  still = _CONFIG._replace(noise_std=0.0)
  plain = vgpnn_jax.generate(jax.random.key(3), video,
                             still._replace(layout_draws=1))

  def no_scores(*args):
    raise AssertionError('draws were compared')

  monkeypatch.setattr(generation, '_layout_scores', no_scores)
  guarded = vgpnn_jax.generate(jax.random.key(3), video,
                               still._replace(layout_draws=3))
  np.testing.assert_array_equal(np.asarray(guarded), np.asarray(plain))
