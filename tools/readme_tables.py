"""Rewrite a generated section of the README: the text between
`<!-- NAME:begin -->` and `<!-- NAME:end -->` markers (used by
`tools/zoo.py` and the benchmarks that write their tables into it)."""

from pathlib import Path


def markers(name):
    """The begin and end markers of the section `name`."""
    return f"<!-- {name}:begin -->", f"<!-- {name}:end -->"


def replace_section(readme, name, body):
    """Replace the text between the section's markers with `body`.

    Raises:
        ValueError: the file lacks the markers.
    """
    path = Path(readme)
    begin, end = markers(name)
    text = path.read_text(encoding="utf-8")
    if begin not in text or end not in text:
        raise ValueError(f"{readme} has no {begin} ... {end} markers.")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    path.write_text(head + begin + "\n" + body.rstrip("\n") + "\n" + end + tail, encoding="utf-8")
