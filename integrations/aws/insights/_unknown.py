"""Resources an insight could not judge because the collector could not read them (values None)."""

SHOWN = 10  # names in an error message


def unknown_note(unknown: list[str], noun: str = "") -> str:
    """``", 2 unknown"`` for a message, or nothing when every resource was judged."""
    return f", {len(unknown)} {noun}unknown" if unknown else ""


def fail_if_nothing_judged(unknown: list[str], total: int, what: str, collector: str) -> None:
    """Not a pass: raise when every one of ``total`` (at least one) resources is ``unknown``.

    ``what`` names what could not be read, as in "the default encryption of every bucket".
    """
    if not unknown or len(unknown) < total:
        return
    names = ", ".join(unknown[:SHOWN]) + (f" and {len(unknown) - SHOWN} more" if len(unknown) > SHOWN else "")
    raise PermissionError(f"{what} could not be read ({names}); the errors of {collector} say why")
