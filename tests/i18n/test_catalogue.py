"""Every string a person reads has a German translation, and none escapes being marked.

Babel extracts the marked strings (``_``, ``gettext``, ``ngettext``,
``lazy_gettext`` in Python; the same and ``{% trans %}`` in templates) as
``make translations`` does; each must be in the German catalogue, translated,
not fuzzy, with the same placeholders. A string nobody marked is never
extracted, so the templates are also read token by token: text, and the
attributes a person reads (``aria-label``, ``title``, ``alt``, ``placeholder``),
outside a translation call fails the test. In Python, ``flash()`` messages,
form-field labels and validator messages must be marked too.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from jinja2 import DictLoader, Environment, FileSystemLoader

import consentmgr

PACKAGE = Path(consentmgr.__file__).parent
TEMPLATES = PACKAGE / "templates"
CATALOGUE = PACKAGE / "translations" / "de" / "LC_MESSAGES" / "messages.po"
COMPILED = CATALOGUE.with_suffix(".mo")
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None,
            "lazy_ngettext": (1, 2)}
METHODS = [("templates/**.html", "jinja2"), ("**.py", "python")]
GETTEXT_NAMES = {"_", "gettext", "ngettext", "lazy_gettext", "lazy_ngettext"}
# Words that read the same in every language: names of things, formats, standards.
SAME_IN_EVERY_LANGUAGE = {
    "consentmgr", "Northwind", "JSON", "CSV", "API", "GPC", "UTC", "ID", "IDs", "URL", "SVG",
    "TOTP", "JWS", "JWKS", "DPO", "SHA", "OpenAPI", "GDPR", "DSGVO", "PDF", "Ed25519", "HTTP",
    "HTTPS", "CCPA", "ISO", "Art", "Deutsch", "English", "curl", "Bearer", "ok", "id",
}
PLACEHOLDER = re.compile(r"%\((\w+)\)[sdfr]|\{(\w+)\}")
WORD = re.compile(r"[A-Za-zÄÖÜäöüß][A-Za-zÄÖÜäöüß'’]+")
READ_ATTRIBUTES = re.compile(r"\b(aria-label|title|alt|placeholder|aria-description)\s*=\s*\"([^\"]*)\"")
TAG = re.compile(r"<[^>]*>", re.S)
ENTITY = re.compile(r"&#?\w+;")
PROSE = re.compile(r"[A-Za-z]{2,}.*\s.*[A-Za-z]|[A-Z][a-z]+[.!?:]?$", re.S)


def _catalogue():
    with CATALOGUE.open("rb") as handle:
        return read_po(handle, locale="de")


def _extracted():
    root = PACKAGE.parent
    found = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
            str(PACKAGE), METHODS, keywords=KEYWORDS):
        found.setdefault(message, f"{Path(filename)}:{lineno}")
    assert found, f"nothing extracted under {root}"
    return found


def test_every_marked_string_has_a_german_translation():
    catalogue = _catalogue()
    missing = []
    for message, where in _extracted().items():
        msgid = message[0] if isinstance(message, tuple) else message
        entry = catalogue.get(msgid)
        strings = entry.string if entry is not None else None
        translated = (all(strings) if isinstance(strings, tuple) else bool(strings))
        if entry is None or not translated or entry.fuzzy:
            missing.append(f"{where}: {msgid!r}")
    assert missing == [], f"{len(missing)} strings lack a German translation:\n" + "\n".join(missing)


def test_translations_keep_every_placeholder():
    wrong = []
    for entry in _catalogue():
        if not entry.id:
            continue
        ids = entry.id if isinstance(entry.id, tuple) else (entry.id,)
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        wanted = {m.group(1) or m.group(2) for m in PLACEHOLDER.finditer(ids[-1])}
        for string in strings:
            if string and {m.group(1) or m.group(2) for m in PLACEHOLDER.finditer(string)} != wanted:
                wrong.append(f"{ids[0]!r} -> {string!r}")
    assert wrong == []


def _plain(value):
    return tuple(value) if isinstance(value, (list, tuple)) else value


def test_the_compiled_catalogue_matches_the_source():
    assert COMPILED.exists(), "run `make` (or pybabel compile -d consentmgr/translations)"
    with COMPILED.open("rb") as handle:
        # read_mo gives a plural's id and strings as lists, read_po as tuples.
        compiled = {_plain(entry.id): _plain(entry.string) for entry in read_mo(handle) if entry.id}
    source = {_plain(entry.id): _plain(entry.string) for entry in _catalogue()
              if entry.id and not entry.fuzzy}
    assert compiled == source, "the .mo is stale: run `make translations`"


def _template_sources():
    for path in sorted(TEMPLATES.rglob("*.html")):
        yield path.relative_to(TEMPLATES).as_posix()


def _unmarked(env: Environment, name: str) -> list[str]:
    """Text a person reads in template ``name`` that no translation call covers."""
    source = env.loader.get_source(env, name)[0]
    pieces: list[str] = []  # data, with "\0" where an expression or statement stood
    problems: list[str] = []
    in_trans = 0
    calls: list[bool] = []  # open brackets: True for a gettext call's
    previous = ("", "")
    for lineno, kind, value in env.lex(source):
        if kind == "name" and value in ("trans", "pluralize") and previous == ("block_begin", "{%"):
            in_trans += value == "trans"
        elif kind == "name" and value == "endtrans":
            in_trans -= 1
        elif in_trans:
            pass
        elif kind == "data":
            pieces.append(value)
        elif kind in ("variable_begin", "block_begin"):
            pieces.append("\0")
        elif kind == "operator" and value in "([{":
            calls.append(previous[0] == "name" and previous[1] in GETTEXT_NAMES)
        elif kind == "operator" and value in ")]}" and calls:
            calls.pop()
        elif kind == "string" and not any(calls) and PROSE.search(value):
            problems.append(f"{name}:{lineno}: string {value!r}")
        if kind != "whitespace":
            previous = (kind, value)
    text = "".join(pieces)
    for tag in TAG.findall(text):
        for attribute, value in READ_ATTRIBUTES.findall(tag):
            words = [w for w in WORD.findall(value.replace("\0", " ")) if w not in SAME_IN_EVERY_LANGUAGE]
            if words:
                problems.append(f"{name}: {attribute}={value!r}")
    for chunk in TAG.sub("\0", text).split("\0"):
        chunk = ENTITY.sub(" ", chunk)
        words = [w for w in WORD.findall(chunk) if w not in SAME_IN_EVERY_LANGUAGE]
        if words:
            problems.append(f"{name}: {' '.join(chunk.split())!r}")
    return problems


@pytest.mark.parametrize("name", list(_template_sources()))
def test_template_text_is_marked_for_translation(name):
    env = Environment(loader=FileSystemLoader(TEMPLATES), extensions=["jinja2.ext.i18n"])
    assert _unmarked(env, name) == []


def _python_modules():
    # Not the API: its problem details are for programs and stay in English (README, Languages).
    for path in sorted((PACKAGE / "web").rglob("*.py")):
        if "api" not in path.relative_to(PACKAGE).parts:
            yield path


def _is_text(node: ast.AST) -> bool:
    return (isinstance(node, ast.Constant) and isinstance(node.value, str) and bool(WORD.search(node.value))) \
        or isinstance(node, ast.JoinedStr)


def _unmarked_python(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        if name in GETTEXT_NAMES and node.args and isinstance(node.args[0], ast.JoinedStr):
            lines.append(node.lineno)  # an f-string is never extracted: use placeholders
        elif name == "flash" and node.args and _is_text(node.args[0]):
            lines.append(node.lineno)
        elif name.endswith("Field") and node.args and _is_text(node.args[0]):
            lines.append(node.lineno)
        elif any(k.arg in ("message", "label", "description") and _is_text(k.value)
                 for k in node.keywords):
            lines.append(node.lineno)
    return lines


@pytest.mark.parametrize("path", list(_python_modules()), ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_messages_in_views_and_forms_are_marked(path):
    assert _unmarked_python(ast.parse(path.read_text(encoding="utf-8"))) == []


def test_the_lint_finds_what_it_should():
    env = Environment(extensions=["jinja2.ext.i18n"], loader=DictLoader({
        "bad.html": '<p>Your data</p><button aria-label="Close">x</button>{{ m.f("Email address") }}',
        "good.html": "<p>{{ _('Your data') }}</p>{% trans n=3 %}{{ n }} items{% endtrans %}"
                     "<button aria-label=\"{{ _('Close') }}\">×</button> JSON · CSV",
    }))
    bad = _unmarked(env, "bad.html")
    assert len(bad) == 3 and any("Your data" in p for p in bad)
    assert _unmarked(env, "good.html") == []
    assert _unmarked_python(ast.parse('flash("Saved.")\nflash(_("Saved."))\nStringField("Name")\n'
                                      'x = _(f"Hi {a}")')) == [1, 3, 4]


def _unnamed_plurals(env: Environment, name: str) -> list[str]:
    """``{% pluralize %}`` in a ``{% trans a, b %}`` block: Jinja counts by ``a``, the first."""
    tokens = [t for t in env.lex(env.loader.get_source(env, name)[0]) if t[1] != "whitespace"]
    problems, declared, depth, in_tag = [], [], 0, False
    for index, (lineno, kind, value) in enumerate(tokens):
        if kind == "name" and value == "trans" and tokens[index - 1][1] == "block_begin":
            declared, depth, in_tag, expect = [], 0, True, True
        elif in_tag and kind == "block_end":
            in_tag = False
        elif in_tag and kind == "operator" and value in "([{":
            depth += 1
        elif in_tag and kind == "operator" and value in ")]}":
            depth -= 1
        elif in_tag and depth == 0 and kind == "operator" and value == ",":
            expect = True
        elif in_tag and depth == 0 and kind == "name" and expect and value not in ("trimmed", "notrimmed"):
            declared.append(value)
            expect = False
        elif kind == "name" and value == "pluralize" and tokens[index + 1][1] != "name" \
                and len(declared) > 1:
            problems.append(f"{name}:{lineno}: counts by {declared[0]!r}: write "
                            "{% pluralize <count> %}")
    return problems


@pytest.mark.parametrize("name", list(_template_sources()))
def test_plurals_count_by_a_number(name):
    env = Environment(loader=FileSystemLoader(TEMPLATES), extensions=["jinja2.ext.i18n"])
    assert _unnamed_plurals(env, name) == []


def test_the_plural_lint_finds_a_block_counting_by_a_name():
    env = Environment(extensions=["jinja2.ext.i18n"], loader=DictLoader({
        "bad.html": "{% trans purpose=p, count=n %}{{ purpose }}: {{ count }} grant"
                    "{% pluralize %}{{ purpose }}: {{ count }} grants{% endtrans %}",
        "good.html": "{% trans purpose=p, count=n %}{{ purpose }}: {{ count }} grant"
                     "{% pluralize count %}{{ purpose }}: {{ count }} grants{% endtrans %}"
                     "{% trans count=n %}{{ count }} day{% pluralize %}{{ count }} days{% endtrans %}",
    }))
    assert len(_unnamed_plurals(env, "bad.html")) == 1
    assert _unnamed_plurals(env, "good.html") == []
