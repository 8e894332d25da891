"""entry.py of a throwaway integration whose StageOne.start() is given (for ``make_project``)."""

import textwrap

from integrations_tests.conftest import ENTRY

STAGE_ONE = "    class StageOne(BaseRunner.StageOne):\n"
PLAIN_STAGE_ONE = f"{STAGE_ONE}        pass\n"


def entry_with_start(name: str, start: str, imports: str = "") -> str:
    """make_project's entry.py for integration ``name``, StageOne's body replaced by ``start``
    (the source of ``def start(self)``), after the lines ``imports``."""
    source = ENTRY.format(name=name)
    assert PLAIN_STAGE_ONE in source, "conftest.ENTRY changed: update this helper"
    body = textwrap.indent(textwrap.dedent(start).strip("\n") + "\n", " " * 8)
    return f"{imports}\n" + source.replace(PLAIN_STAGE_ONE, STAGE_ONE + body)
