"""Limits on a model config, checked before anything is parsed deeply or
allocated: how deep the JSON nests, and how large its integers are.

A config asking for `num_embeddings=10**12` or filters of `2**40` would
otherwise reach the backend as a raw out-of-memory error, and one nested
5,000 levels deep a raw `RecursionError`. Both are a `ValueError` that
names the field.
"""

#: Deepest nesting of objects and lists in a config (Keras writes about 6).
MAX_DEPTH = 64
#: Largest integer a config field may hold (`seed` excepted).
MAX_INT = 1 << 16
#: Largest product of the two largest integers (a weight matrix of that
#: many float32 values takes 1 GiB).
MAX_PRODUCT = 1 << 28
_EXEMPT = {"seed"}


def check_json_depth(data, source, max_depth=MAX_DEPTH):
    """Raise `ValueError` if the JSON text `data` nests deeper than
    `max_depth`, naming the field; scans without recursion.

    Args:
        data: bytes or str. The JSON text.
        source: str. Where it comes from, for the message.
        max_depth: int. Defaults to `MAX_DEPTH`.
    """
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    stack = []  # One entry per open container: the key or index in it.
    in_string = escaped = False
    last_string = start = None
    for i, ch in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
                last_string = text[start:i]
            continue
        if ch == '"':
            in_string, start = True, i + 1
        elif ch == ":" and stack:
            stack[-1] = last_string
        elif ch == "," and stack and isinstance(stack[-1], int):
            stack[-1] += 1
        elif ch in "{[":
            stack.append(0 if ch == "[" else None)
            if len(stack) > max_depth:
                raise ValueError(
                    f"{source} nests deeper than {max_depth} levels, at "
                    f"`{_path(stack[:-1])}`; refusing to parse it as a model config."
                )
        elif ch in "}]" and stack:
            stack.pop()


def _path(stack):
    parts = ["config"] if not stack else []
    for item in stack[:8]:
        parts.append(f"[{item}]" if isinstance(item, int) else f".{item}" if parts else str(item))
    return "".join(parts) + ("..." if len(stack) > 8 else "")


def check_sizes(config, source, class_name):
    """Raise `ValueError` if an integer of the model config `config` (the
    inner `get_config()` dict) is too large to build, naming the field."""
    found = []
    for key, value in config.items():
        if key in _EXEMPT:
            continue
        for i, v in enumerate(value if isinstance(value, (list, tuple)) else [value]):
            if isinstance(v, int) and not isinstance(v, bool):
                name = key if not isinstance(value, (list, tuple)) else f"{key}[{i}]"
                if v > MAX_INT:
                    raise ValueError(
                        f"`{name}` of {class_name} must be at most {MAX_INT} in a keras_genae config "
                        f"({source}); a larger value cannot be built. Received: {key}={value!r}"
                    )
                found.append((v, name))
    found.sort(key=lambda item: (-item[0], item[1]))
    if len(found) >= 2 and found[0][0] * found[1][0] > MAX_PRODUCT:
        (a, name_a), (b, name_b) = found[:2]
        raise ValueError(
            f"`{name_a}`={a} and `{name_b}`={b} of {class_name} ask for more than {MAX_PRODUCT} "
            f"weights in one layer ({source}); refusing to build it. Use smaller values."
        )
