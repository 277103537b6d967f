"""Tests of the max-size rule shared by the readers and the memory check."""

import numpy as np
import pytest

from vgpnn_jax import sizes


@pytest.mark.parametrize('hw', [(720, 1280), (480, 640), (7, 3), (1000, 1)])
def test_width_at_height_is_the_nearest_width_in_proportion(hw):
  h, w = hw
  for height in (1, 2, 5, 144, 288, 997):
    width = sizes.width_at_height(hw, height)
    # The nearest integer to w * height / h (halves round up), never 0.
    exact = w * height / h
    assert width >= 1
    if exact >= 0.5:
      assert abs(width - exact) <= 0.5
      assert width - exact != -0.5  # a half rounds up, not down


def test_scaled_to_max_size_limits_only_taller_frames():
  assert sizes.scaled_to_max_size((720, 1280), 288) == (288, 512)
  assert sizes.scaled_to_max_size((720, 1280), None) == (720, 1280)
  assert sizes.scaled_to_max_size((144, 256), 288) == (144, 256)
  assert sizes.scaled_to_max_size((144, 256), 144) == (144, 256)
  # (3, 5) at 2 rows: 5 * 2 / 3 = 3.33 -> 3; (2, 3) at 1 row: 1.5 -> 2.
  assert sizes.scaled_to_max_size((3, 5), 2) == (2, 3)
  assert sizes.scaled_to_max_size((2, 3), 1) == (1, 2)


def test_scaled_to_max_size_matches_a_numpy_reference():
  rng = np.random.default_rng(0)
  for h, w, limit in rng.integers(1, 2000, size=(200, 3)):
    expected = (h, w) if h <= limit else (
        limit, max(1, int(np.floor(w * limit / h + 0.5))))
    assert sizes.scaled_to_max_size((int(h), int(w)), int(limit)) == expected
