"""Exact nearest-neighbour search between sets of patch vectors.

Distances are sums of squared differences, computed as |q|^2 - 2 q.k + |k|^2 in
float32 with `precision=HIGHEST` (GPUs and TPUs otherwise multiply float32 in
lower precision). Queries are processed in chunks with `lax.map`, so memory is
bounded by `chunk_size x num_keys`, never the full query x key matrix.

The optional completeness term of GPNN divides every distance by
`alpha + min_q D(q, k)`: keys that no query is close to yet become cheaper, so
the output keeps more of the input's content.

Keys can be excluded (`key_valid`, e.g. the patches that overlap the hole of an
inpainting): their squared norm becomes +inf, so every distance to them is
+inf at no extra cost per distance.
"""

import functools

import jax
import jax.numpy as jnp

from vgpnn_jax import errors
from vgpnn_jax import sharding

_HIGHEST = jax.lax.Precision.HIGHEST


def _first_argmin(scores: jax.Array) -> tuple[jax.Array, jax.Array]:
  """Minimum of the last axis and the first index where it is reached.

  `jnp.argmin` over a long axis is much slower than `jnp.min` on XLA:CPU, so
  take the minimum, then the smallest index holding it.
  """
  best = jnp.min(scores, axis=-1)
  positions = jnp.arange(scores.shape[-1], dtype=jnp.int32)
  index = jnp.min(jnp.where(scores == best[..., None], positions,
                            scores.shape[-1]), axis=-1)
  return index.astype(jnp.int32), best


# Batched by a loop (`sharding.loop_over_batch`): under `vmap` the queries of
# every variation against the shared keys would become one matrix product,
# and XLA:CPU's blocking of it (so its rounding) depends on the batch size: a
# near tie of the nearest key flipped, and a variation made in a batch of 2
# differed from the same key's made alone or in a batch of 3 (by up to 12/255
# on 0.5% of its voxels). The loop keeps every product the one `generate`
# makes for that key.
@sharding.loop_over_batch
def _cross(queries: jax.Array, keys: jax.Array) -> jax.Array:
  """[Q, D] x [K, D] -> [Q, K] dot products."""
  return jnp.matmul(queries, keys.T, precision=_HIGHEST)


def _sq_distances(queries: jax.Array, keys: jax.Array,
                  keys_sq: jax.Array) -> jax.Array:
  """[Q, D] x [K, D] -> [Q, K] squared distances (clipped at zero)."""
  cross = _cross(queries, keys)
  queries_sq = jnp.sum(queries * queries, axis=-1, keepdims=True)
  return jnp.maximum(queries_sq - 2 * cross + keys_sq[None, :], 0)


def _chunked(fn, xs: jax.Array, chunk_size: int):
  """`fn` on row chunks of `xs` (padding the ragged last one), concatenated."""
  count = xs.shape[0]
  num_chunks = -(-count // max(1, min(chunk_size, count)))
  # Chunks of equal size, at most `chunk_size`: padding 4352 queries to five
  # chunks of 1024 spent 18% of the search on padding.
  chunk_size = sharding.round_to_query_devices(-(-count // num_chunks))
  padded = jnp.pad(xs, ((0, num_chunks * chunk_size - count), (0, 0)))
  # Under `sharding.spread_queries` each device searches its share of a chunk.
  chunks = sharding.constrain_queries(
      padded.reshape(num_chunks, chunk_size, -1), axis=1)
  out = jax.lax.map(fn, chunks)
  return jax.tree.map(lambda o: o.reshape((-1,) + o.shape[2:])[:count], out)


def min_distance_to(points: jax.Array, others: jax.Array, *,
                    chunk_size: int = 1024) -> jax.Array:
  """For every point, the squared distance to its nearest point in `others`.

  Args:
    points: [N, D] float vectors.
    others: [M, D] float vectors.
    chunk_size: points compared at once.

  Returns:
    [N] float32 minimum squared distances.
  """
  others = others.astype(jnp.float32)
  others_sq = jnp.sum(others * others, axis=-1)
  return _chunked(
      lambda chunk: jnp.min(_sq_distances(chunk, others, others_sq), axis=-1),
      points.astype(jnp.float32), chunk_size)


@functools.partial(jax.jit, static_argnames=('chunk_size',))
def _exact_nearest(queries, keys, alpha, key_valid, chunk_size):
  queries = queries.astype(jnp.float32)
  keys = keys.astype(jnp.float32)
  keys_sq = jnp.sum(keys * keys, axis=-1)
  if key_valid is not None:
    keys_sq = jnp.where(key_valid, keys_sq, jnp.inf)
  if alpha is None:
    normaliser = None
  else:
    normaliser = alpha + min_distance_to(keys, queries, chunk_size=chunk_size)

  def search(chunk):
    distances = _sq_distances(chunk, keys, keys_sq)
    if normaliser is None:
      return _first_argmin(distances)
    index, _ = _first_argmin(distances / normaliser[None, :])
    return index, jnp.take_along_axis(distances, index[:, None], axis=1)[:, 0]

  return _chunked(search, queries, chunk_size)


def exact_nearest(
    queries: jax.typing.ArrayLike,
    keys: jax.typing.ArrayLike,
    *,
    alpha: float | None = None,
    key_valid: jax.typing.ArrayLike | None = None,
    chunk_size: int = 1024,
) -> tuple[jax.Array, jax.Array]:
  """Exact nearest key of every query (sum of squared differences).

  Args:
    queries: [Nq, D] float vectors.
    keys: [Nk, D] float vectors.
    alpha: if given, the GPNN completeness term: the key minimising
      `D(q, k) / (alpha + min_q' D(q', k))` is chosen instead.
    key_valid: optional [Nk] bool; only keys where it is True are chosen
      (excluded, not penalised). At least one must be True.
    chunk_size: queries compared at once; memory is about
      `chunk_size * Nk * 4` bytes.

  Returns:
    indices: [Nq] int32, the chosen key of every query (the first one on ties).
    sq_distances: [Nq] float32, the squared distance to that key.

  Raises:
    ValueError: bad shapes, no keys, complex vectors, a bad `alpha` or
      `key_valid`; `InputError` (a ValueError) for concrete vectors that are
      not finite (a NaN query has no nearest key: its index would be Nk).
  """
  queries = jnp.asarray(queries)
  keys = jnp.asarray(keys)
  if queries.ndim != 2 or keys.ndim != 2 or queries.shape[1] != keys.shape[1]:
    raise ValueError(f'expected [Nq, D] queries and [Nk, D] keys, got '
                     f'{queries.shape} and {keys.shape}')
  if keys.shape[0] == 0:
    raise ValueError('there are no keys to search (keys of shape '
                     f'{keys.shape}); give at least one')
  for name, vectors in (('queries', queries), ('keys', keys)):
    if jnp.issubdtype(vectors.dtype, jnp.complexfloating):
      raise ValueError(f'the {name} must be real, got dtype {vectors.dtype}')
    errors.check_finite(vectors, f'the {name}')
  if queries.shape[0] == 0:
    return jnp.zeros((0,), jnp.int32), jnp.zeros((0,), jnp.float32)
  if alpha is not None and alpha <= 0:
    raise ValueError(f'alpha must be positive or None, got {alpha}')
  if key_valid is not None:
    key_valid = jnp.asarray(key_valid)
    if key_valid.shape != keys.shape[:1] or key_valid.dtype != jnp.bool_:
      raise ValueError(f'key_valid must be [{keys.shape[0]}] bool, got '
                       f'{key_valid.shape} {key_valid.dtype}')
  return _exact_nearest(queries, keys, alpha, key_valid, int(chunk_size))
