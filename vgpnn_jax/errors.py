"""The error and warning types for bad user input.

Every check on user-supplied data (files, sizes, shapes, scales, masks) raises
`InputError` with a message that names the problem and says how to fix it. The
command line turns it into a one-line message and exit code 2; library users can
catch it (it is a `ValueError`).

Input that can still be used but may not be what was meant (a folder of frames
with gaps in its numbering, outputs evaluated against an input of another
size) is reported with `warnings.warn(message, InputWarning)`; the command line
prints each as one `warning: ...` line on stderr.
"""


class InputError(ValueError):
  """Bad input: the message names the problem and the fix."""


class InputWarning(UserWarning):
  """Usable input that may not be what was meant: the message says why."""
