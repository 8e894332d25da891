"""``python -m integrations_pipeline.cli``: the ``integrations`` command."""

import sys

from integrations_pipeline.cli import main

sys.exit(main())
