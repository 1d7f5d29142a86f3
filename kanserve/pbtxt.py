"""Triton's config.pbtxt (protobuf text format): a small reader and writer for the fields a model config uses.

Reading gives plain JSON-like values, the shape Triton's `/config` endpoint answers with: scalars, enum names
as strings, nested messages as dicts, and repeated fields as lists. No protobuf schema is needed: a field is a
list when it is written in brackets, appears more than once, or is one Triton declares repeated.
"""
import re

REPEATED = {"input", "output", "dims", "instance_group", "versions", "preferred_batch_size", "gpus", "reshape"}
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|#[^\n]*|[{}\[\]:,<>;]|[^\s{}\[\]:,<>;"#]+')


class PbtxtError(ValueError):
    """Not a config.pbtxt this reader understands; the message says where."""


def _tokens(text: str) -> list[str]:
    out, pos = [], 0
    for m in _TOKEN.finditer(text):
        if text[pos:m.start()].strip():
            raise PbtxtError(f"unexpected text at offset {pos}: {text[pos:m.start()][:20]!r}")
        pos = m.end()
        if not m.group().startswith("#"):
            out.append(m.group())
    if text[pos:].strip():
        raise PbtxtError(f"unexpected text at offset {pos}: {text[pos:][:20]!r}")
    return out


def _scalar(token: str) -> object:
    if token.startswith('"'):
        return bytes(token[1:-1], "utf-8").decode("unicode_escape")
    if re.fullmatch(r"[-+]?\d+", token):
        return int(token)
    if re.fullmatch(r"[-+]?\d+\.\d*(?:[eE][-+]?\d+)?", token):
        return float(token)
    return {"true": True, "false": False}.get(token, token)  # enums stay names: TYPE_FP32, FORMAT_NCHW


class _Parser:
    def __init__(self, text: str):
        self.tokens, self.i = _tokens(text), 0

    def peek(self) -> str | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            raise PbtxtError(f"expected {expected or 'a value'} at token {self.i}, got {token!r}")
        self.i += 1
        return token

    def message(self, end: str | None) -> dict:
        fields: dict = {}
        while self.peek() != end:
            name = self.take()
            if not re.fullmatch(r"[A-Za-z_]\w*", name):
                raise PbtxtError(f"expected a field name at token {self.i - 1}, got {name!r}")
            if self.peek() == ":":
                self.take(":")
            value = self.value()
            if name in fields:
                previous = fields[name] if isinstance(fields[name], list) else [fields[name]]
                fields[name] = previous + (value if isinstance(value, list) else [value])
            else:
                fields[name] = value
            if self.peek() in (",", ";"):
                self.take()
        if end:
            self.take(end)
        return {k: (v if isinstance(v, list) or k not in REPEATED else [v]) for k, v in fields.items()}

    def value(self) -> object:
        token = self.peek()
        if token in ("{", "<"):
            self.take()
            return self.message("}" if token == "{" else ">")
        if token == "[":
            self.take("[")
            items = []
            while self.peek() != "]":
                items.append(self.value())
                if self.peek() == ",":
                    self.take(",")
            self.take("]")
            return items
        return _scalar(self.take())


def loads(text: str) -> dict:
    """config.pbtxt text -> dict; raises PbtxtError."""
    return _Parser(text).message(None)


def dumps(config: dict, indent: int = 0) -> str:
    """dict -> config.pbtxt text (lists of messages in brackets, enums bare, strings quoted)."""
    pad, lines = "  " * indent, []
    for key, value in config.items():
        if isinstance(value, dict) and not value:
            lines.append(f"{pad}{key} {{ }}")
        elif isinstance(value, dict):
            lines += [f"{pad}{key} {{", dumps(value, indent + 1).rstrip("\n"), f"{pad}}}"]
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            blocks = [f"{pad}  {{\n{dumps(v, indent + 2).rstrip(chr(10))}\n{pad}  }}" for v in value]
            lines += [f"{pad}{key} [", ",\n".join(blocks), f"{pad}]"]
        elif isinstance(value, list):
            lines.append(f"{pad}{key}: [ {', '.join(_text(v) for v in value)} ]")
        else:
            lines.append(f"{pad}{key}: {_text(value)}")
    return "\n".join(lines) + "\n"


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and not re.fullmatch(r"[A-Z][A-Z0-9_]*", value):  # enum names stay bare
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(value)
