"""Whether two checkouts of this code make bit-identical generations.

Each checkout runs in its own subprocess a fixed set of small generations of
a smooth moving video (both searches, one key and a batch of 2 keys, the
default structure guard and a key index shared over J >= 3 iterations) and
saves them (the reference's once, next to it); then every output is
compared with `np.array_equal`.

    mkdir /tmp/ref && git archive BASE | tar -x -C /tmp/ref
    python experiments/same_outputs.py /tmp/ref .
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

# name -> (size, overrides, number of keys); 3 levels keep each run short,
# J = 3 at every level shares the key indexes (pnn.shares_key_indexes).
CASES = {
    'exact x1': ((7, 40, 64), dict(search='exact', max_levels=3,
                                    num_iters=3), 1),
    'exact x2': ((7, 40, 64), dict(search='exact', max_levels=3,
                                    num_iters=3), 2),
    'patchmatch x1': ((9, 56, 96), dict(search='patchmatch', max_levels=3,
                                        num_iters=3), 1),
    'patchmatch x2': ((9, 56, 96), dict(search='patchmatch', max_levels=3,
                                        num_iters=3), 2),
    'patchmatch J=1 x1': ((9, 56, 96), dict(search='patchmatch', max_levels=3,
                                            num_iters=1), 1),
}


def _video(size):
  t, y, x = np.meshgrid(*[np.arange(n) / n for n in size], indexing='ij')
  phase = np.array([0.0, 2.0, 4.0])
  video = (0.5 + 0.3 * np.sin(9 * x[..., None] + 5 * y[..., None] +
                              3 * t[..., None] + phase) +
           0.15 * np.sin(31 * x[..., None] * y[..., None] + 7 * t[..., None]))
  return np.clip(video, 0, 1).astype(np.float32)


def generate_all(out: str) -> None:
  """Runs every case with the package on sys.path; saves them in `out`."""
  import jax  # pylint: disable=g-import-not-at-top
  from vgpnn_jax import generation  # pylint: disable=g-import-not-at-top
  results = {}
  for name, (size, overrides, num) in CASES.items():
    keys = jax.random.split(jax.random.key(7), num)
    results[name] = np.asarray(generation.generate_batch(
        keys, _video(size), **overrides))
  np.savez(out, **results)


def _run(root: str, out: str) -> None:
  env = dict(os.environ, PYTHONPATH=os.path.abspath(root), JAX_PLATFORMS='cpu')
  env.pop('VGPNN_JAX_CACHE', None)
  code = (f'import sys; sys.path.insert(0, {os.path.abspath(root)!r}); '
          f'sys.path.insert(1, {os.path.dirname(os.path.abspath(__file__))!r}); '
          f'import same_outputs; same_outputs.generate_all({out!r})')
  subprocess.run([sys.executable, '-c', code], env=env, check=True,
                 cwd=os.path.abspath(root))


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('before', help='checkout of the reference code')
  parser.add_argument('after', help='checkout of the changed code')
  args = parser.parse_args()
  with tempfile.TemporaryDirectory() as work:
    # The reference's outputs are kept next to it (it does not change).
    files = [os.path.join(args.before, '.same_outputs.npz'),
             os.path.join(work, 'after.npz')]
    if not os.path.exists(files[0]):
      _run(args.before, files[0])
    _run(args.after, files[1])
    before, after = (np.load(f) for f in files)
    same = {name: bool(np.array_equal(before[name], after[name]))
            for name in CASES}
  for name, equal in same.items():
    print(f'{name}: {"bit-identical" if equal else "DIFFERENT"}')
  print(json.dumps({'all_identical': all(same.values())}))
  sys.exit(0 if all(same.values()) else 1)


if __name__ == '__main__':
  main()
