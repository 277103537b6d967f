"""The error and warning types for bad user input.

Every check on user-supplied data (files, sizes, shapes, scales, masks) raises
`InputError` with a message that names the problem and says how to fix it. The
command line turns it into a one-line message and exit code 2; library users can
catch it (it is a `ValueError`).

Input that can still be used but may not be what was meant (a folder of frames
with gaps in its numbering, outputs evaluated against an input of another
size) is reported with `warnings.warn(message, InputWarning)`; the command line
prints each as one `warning: ...` line on stderr.

`check_finite` is the building blocks' check of concrete values.
"""


class InputError(ValueError):
  """Bad input: the message names the problem and the fix."""


class InputWarning(UserWarning):
  """Usable input that may not be what was meant: the message says why."""


def check_finite(array, what: str) -> None:
  """Raises `InputError` when a concrete array holds NaN or infinity.

  For the building blocks (resize, unfold, fold, exact search), where one
  NaN would spread through a result or pick a key index out of range. A
  traced array (under `jax.jit`) is not checked: its values are unknown.

  Args:
    array: a jax array (already converted).
    what: the array's name in the message.
  """
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  if isinstance(array, jax.core.Tracer) or array.size == 0:
    return
  if not bool(jnp.all(jnp.isfinite(array))):
    raise InputError(
        f'{what} holds NaN or infinite values; give finite values (e.g. '
        f'np.nan_to_num, or fix the computation that made them)')
