"""One pyramid level's programs run alone, on synthetic inputs of its shapes.

Finds in a minute what a whole run reaches only after all the coarser levels:
whether a level's start and iteration programs run at a size, their XLA
buffers (`memory_analysis()`), their seconds, and the process's peak resident
memory after each. Found the 60x720x1280 `std::bad_alloc` at level 24
(experiments/results/windows.md): run under `gdb -batch -ex 'catch throw
std::bad_alloc' -ex run -ex bt --args python experiments/level_alone.py ...`
to see which operation allocates.

    python experiments/level_alone.py --size 60x720x1280 --level 1
    python experiments/level_alone.py --size 13x144x256 --level 0

The inputs are uniform noise and all-zero fields: the programs' buffers are
their shapes', but data-dependent loops (the median fold's unresolved
values) may run longer or shorter than on a real video.
"""

import argparse
import pathlib
import resource
import sys
import time

_ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(_ROOT))
sys.path.insert(0, str(_ROOT / 'experiments'))

import jax  # pylint: disable=g-import-not-at-top,wrong-import-position
import jax.numpy as jnp  # pylint: disable=g-import-not-at-top,wrong-import-position

import memory_breakdown  # pylint: disable=g-import-not-at-top,wrong-import-position
from vgpnn_jax import generation  # pylint: disable=g-import-not-at-top,wrong-import-position

_GIB = 2.0**30


def _peak_gib() -> float:
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / _GIB


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--size', default='13x144x256', help='TxHxW of the clip')
  parser.add_argument('--level', type=int, default=0,
                      help='level index, 0 = finest')
  parser.add_argument('--window-frames', type=int, default=None,
                      help='temporal windows on the finest level (as '
                      'generate --window-frames N)')
  parser.add_argument('--window-levels', type=int, default=1,
                      help='finest levels in windows (Config.window_levels)')
  parser.add_argument('--key-margin', type=int, default=None,
                      help='Config.window_key_margin: each window searches '
                      'its own frames and this many more either side')
  args = parser.parse_args()
  size = tuple(int(n) for n in args.size.split('x'))
  config = generation.make_config(generation.default_config(size[0]),
                                  window_frames=args.window_frames,
                                  window_levels=args.window_levels,
                                  window_key_margin=args.key_margin)
  levels = generation.plan_levels(size, config, 3)
  index = args.level
  programs = memory_breakdown.level_programs(levels, config, index)
  noise = [jax.random.key(1)]

  def synthetic(spec):
    if jax.dtypes.issubdtype(spec.dtype, jax.dtypes.prng_key):
      return jax.random.key(0)
    if jnp.issubdtype(spec.dtype, jnp.integer):
      return jnp.zeros(spec.shape, spec.dtype)
    noise[0], sub = jax.random.split(noise[0])
    return jax.random.uniform(sub, spec.shape, spec.dtype)

  level = levels[index]
  print(f'level {index} of {len(levels)} (0 = finest): '
        f'{"x".join(map(str, level.output_size))}, {level.search}, patch '
        f'{"x".join(map(str, level.patch_size))}', flush=True)
  print('| program | compile s | arguments GiB | output GiB | temp GiB | '
        'run s | peak RSS GiB |\n|---|---|---|---|---|---|---|', flush=True)
  for name, program, spec in programs:
    begin = time.time()
    compiled = program.lower(*spec).compile()
    compile_s = time.time() - begin
    buffers = compiled.memory_analysis()
    inputs = jax.tree.map(synthetic, spec, is_leaf=lambda x: isinstance(
        x, jax.ShapeDtypeStruct))
    jax.block_until_ready(inputs)
    begin = time.time()
    jax.block_until_ready(compiled(*inputs))
    print(f'| {name} | {compile_s:.1f} | '
          f'{buffers.argument_size_in_bytes / _GIB:.2f} | '
          f'{buffers.output_size_in_bytes / _GIB:.2f} | '
          f'{buffers.temp_size_in_bytes / _GIB:.2f} | '
          f'{time.time() - begin:.1f} | {_peak_gib():.2f} |', flush=True)
    del inputs


if __name__ == '__main__':
  main()
