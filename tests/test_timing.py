"""Tests of the time model of `--dry-run`."""

import pytest

from vgpnn_jax import generation
from vgpnn_jax import pnn
from vgpnn_jax import timing


def _plan(**overrides):
  config = generation.make_config(patch_size=(3, 5, 5), max_levels=3,
                                  **overrides)
  return generation.plan_levels((8, 40, 60), config), config


def test_calibration_is_a_positive_rate_and_cached():
  rate = timing.calibrate()
  assert 1e6 < rate < 1e16
  assert timing.calibrate() == rate


def test_level_flops_follow_the_search():
  levels, _ = _plan(search='exact')
  flops = timing.level_flops(levels)
  for level, value in zip(levels[::-1], flops):
    searches = 1 if level.alpha is None else 2
    assert value == pytest.approx(
        searches * level.num_iters * pnn.exact_cost(
            level.output_size, level.input_size, level.patch_size) /
        timing.EXACT_EFFICIENCY)
  levels, _ = _plan(search='patchmatch')
  assert timing.level_flops(levels) == [
      w * timing.PATCHMATCH_FLOPS_PER_VOXEL
      for w in generation.level_work(levels)]


def test_estimate_grows_with_outputs_and_guard_draws():
  rate = 1e10
  levels, config = _plan(search='exact')
  one, three = (timing.estimate_seconds(levels, n, config,
                                        flops_per_second=rate)
                for n in (1, 3))
  work = sum(timing.level_flops(levels)) / rate
  guarded = sum(timing.level_flops(levels)[:config.guard_level + 1]) / rate
  assert three - one == pytest.approx(2 * (work + guarded))  # 2 draws there
  still = config._replace(noise_std=0.0)  # no second draw without noise
  assert timing.estimate_seconds(levels, 1, config, flops_per_second=rate) - (
      timing.estimate_seconds(levels, 1, still, flops_per_second=rate)
  ) == pytest.approx(guarded + timing.LEVEL_SECONDS * (config.guard_level + 1))
