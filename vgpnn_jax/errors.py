"""The one error type raised for bad user input.

Every check on user-supplied data (files, sizes, shapes, scales, masks) raises
`InputError` with a message that names the problem and says how to fix it. The
command line turns it into a one-line message and exit code 2; library users can
catch it (it is a `ValueError`).
"""


class InputError(ValueError):
  """Bad input: the message names the problem and the fix."""
