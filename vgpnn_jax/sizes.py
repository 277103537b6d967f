"""Frame sizes under a height: the `max_size` rule of the readers.

One rule shared by the readers and the grids (io.py), which resize frames to
it, and the memory check (memory.py), which suggests a `--max-size` that
fits: it lives here, free of files and of JAX, so that neither module has to
import the other.
"""

import math


def width_at_height(hw: tuple[int, int], height: int) -> int:
  """The width of a frame of `hw` = (H, W) scaled to `height` rows.

  In proportion, rounded half up, at least 1.
  """
  h, w = hw
  return max(1, math.floor(w * height / h + 0.5))


def scaled_to_max_size(hw: tuple[int, int],
                       max_size: int | None) -> tuple[int, int]:
  """(H', W') of a frame of `hw` = (H, W) read with `max_size`.

  A frame taller than `max_size` is scaled to that height (`width_at_height`);
  others, and every frame when `max_size` is None, keep their size.
  """
  height, _ = hw
  if max_size is None or height <= max_size:
    return tuple(hw)
  return max_size, width_at_height(hw, max_size)
