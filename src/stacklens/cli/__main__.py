"""``python -m stacklens.cli``: the ``stacklens`` command."""

from stacklens.cli.main import main

main()
