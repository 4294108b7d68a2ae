"""Command lines for fuzzing: every verb's flags read from the real parser (a new flag is fuzzed without a
change here), values that mix valid forms with junk, and the spellings kubectl accepts (`--f=v`, `--f v`,
`-nv`, `--x=false`, `--no-x`, repeats, flags before the verb).

A valid value is a `Given`: the text typed and what the request should hold for it, so the properties can
check that a valid line reaches the run with the fields its flags asked for.
"""

from __future__ import annotations

import argparse
import functools
import ipaddress
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from hypothesis import settings
from hypothesis import strategies as st

from oc_virt_expose.cli.argv import boolean_flags
from oc_virt_expose.cli.parser import VERBS, build_parser, program_name, verb_parser

FUZZ = settings(derandomize=True, deadline=None, database=None, print_blob=True)
"""The settings of every fuzz test: the examples follow from the test's name (the same in every run and in
CI), no example database, no deadline (shared machines)."""
ARGV0 = "/usr/bin/kubectl-virt_expose"
PROG = program_name(ARGV0)
PARSER = build_parser(PROG)
"""One parser for every example: building it costs several times a parse, and parsing leaves it as it was."""


@dataclass(frozen=True)
class Flag:
    spellings: tuple[str, ...]
    """`("-l", "--labels")`; a boolean's `--no-` twin is not one of them."""
    dest: str
    boolean: bool
    repeatable: bool

    @property
    def negation(self) -> str:
        return "--no-" + self.spellings[-1][2:]


def flags_of(verb: str) -> tuple[Flag, ...]:
    """The flags of `verb` as its parser declares them, without --help and --version (they print and stop)."""
    parser = verb_parser(PARSER, verb)
    booleans = boolean_flags(parser)
    flags = []
    for action in parser._actions:
        if not action.option_strings or isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
            continue
        if action.nargs == 0 and all(option.startswith("--no-") for option in action.option_strings):
            continue  # the twin of a boolean
        boolean = action.nargs == 0
        assert not boolean or action.option_strings[-1] in booleans, action.option_strings
        repeatable = isinstance(action, argparse._AppendAction)
        flags.append(Flag(tuple(action.option_strings), action.dest, boolean, repeatable))
    return tuple(flags)


FLAGS = {verb: flags_of(verb) for verb in VERBS}
SPELLINGS = {verb: {spelling: flag for flag in FLAGS[verb] for spelling in (*flag.spellings,
                    *((flag.negation,) if flag.boolean else ()))} for verb in VERBS}
"""Verb -> every option string (`--no-x` too) -> its `Flag`."""


class Given(NamedTuple):
    text: str
    expected: Any


# -- junk --------------------------------------------------------------------------------------------------

TEXT = st.text(st.characters(exclude_characters="\x00"), max_size=8)  # argv never holds NUL
JUNK_WORDS = (
    "", " ", "=", ",", ",,", "-x", "--", "-", "a=b=c", "k!=v", "k==v", "80:", ":80", "/TCP", "80/", "80:81:82", "0",
    "-1", "65536", "99999999999999999999", "1e3", "0x50", "²", "٣", "\uff11\uff12", "None", "none", "true", "false",
    "vm", "list", "delete", "expose", "-n", "--port", "\t", "a b", "a\nb", "a\rb", "ü", "🙂", "\udcff", "Not_A_Name",
    "IPv5", "10.0.0.300", "::g", "5y", "-5s", "1h-1m", "a=", "=b", "k=v,", ",k=v", "/", "vm/", "/x", "vm/x/y",
)
"""Forms that have broken parsers before: separators alone, signs, non-ASCII digits, flags as values, ..."""
LONG = st.tuples(st.sampled_from(("x", "9", "a=b,", "-", "é", "🙂")), st.integers(30, 300)).map(lambda t: t[0] * t[1])
JUNKS = (st.sampled_from(JUNK_WORDS), TEXT, LONG)
JUNK = st.one_of(*JUNKS)
"""Words known to break parsers, any text (all of Unicode but NUL), long runs."""


# -- valid values ------------------------------------------------------------------------------------------
# Drawn from pools made once (edge cases, then values built at random with a fixed seed): one draw each, where
# a value built character by character costs a dozen, more than the parse under test.

LOWER = "abcdefghijklmnopqrstuvwxyz"
ALNUM = LOWER + "0123456789"
ANY_CHARACTERS = ALNUM + "ABZ -_.:/=,@\t\r\n\x01\x85éßø\u200b\u2028\u202eЖ中文🙂\u0301\u0308"
"""Letters, separators, control characters, combining marks, text direction: what free text may hold."""
POOL_SIZE = 40
_RANDOM = random.Random(12)


def pool_values(make: Callable[[random.Random], Given], *edges: Given) -> list[Given]:
    return list({given.text: given for given in [*edges, *(make(_RANDOM) for _ in range(POOL_SIZE))]}.values())


def pool(make: Callable[[random.Random], Given], *edges: Given) -> st.SearchStrategy[Given]:
    return st.sampled_from(pool_values(make, *edges))


def plain(*texts: str) -> list[Given]:
    return [Given(text, text) for text in texts]


def characters(rnd: random.Random, alphabet: str, low: int, high: int) -> str:
    return "".join(rnd.choice(alphabet) for _ in range(rnd.randint(low, high)))


def dns_label(rnd: random.Random) -> str:
    """A DNS-1035 label: a letter, then lowercase letters, digits and '-', ending with a letter or digit."""
    tail = characters(rnd, ALNUM + "-", 0, 14)
    return rnd.choice(LOWER) + (tail + rnd.choice(ALNUM) if tail else "")


def port_name(rnd: random.Random) -> str:
    """An IANA service name: at most 15 lowercase letters, digits and single '-', with a letter."""
    return rnd.choice(LOWER) + "-".join(characters(rnd, ALNUM, 1, 4) for _ in range(rnd.randint(1, 3)))


def label_name(rnd: random.Random) -> str:
    tail = characters(rnd, ALNUM + "ABCXYZ-_.", 0, 10)
    return rnd.choice(ALNUM + "AZ") + (tail + rnd.choice(ALNUM + "Z") if tail else "")


def label_text(labels: dict[str, str]) -> Given:
    return Given(",".join(f"{key}={value}" for key, value in labels.items()), labels)


def spec(port: int, target: int | str | None, protocol: str | None) -> Given:
    """`PORT[:TARGET][/PROTOCOL]` -> (port, target, protocol)."""
    text = f"{port}{'' if target is None else f':{target}'}{'' if protocol is None else '/' + protocol}"
    return Given(text, (port, target, None if protocol is None else protocol.upper()))


def random_spec(rnd: random.Random) -> Given:
    target = rnd.choice((None, rnd.randint(1, 65535), port_name(rnd)))
    return spec(rnd.choice((rnd.randint(1, 65535), 22, 80, 443)), target,
                rnd.choice((None, "TCP", "UDP", "SCTP", "tcp", "udp", "Sctp")))


def random_ip(rnd: random.Random, version: int) -> Given:
    bits = rnd.getrandbits(32 if version == 4 else 128)
    address = ipaddress.IPv4Address(bits) if version == 4 else ipaddress.IPv6Address(bits)
    return Given(str(address).upper() if rnd.random() < 0.3 else str(address), str(address))


def random_duration(rnd: random.Random) -> Given:
    """`90`, `90s`, `1h30m`, `500ms` -> seconds (never negative)."""
    if rnd.random() < 0.3:
        seconds = rnd.randint(0, 10**6)
        return Given(str(seconds), float(seconds))
    parts = [(rnd.randint(0, 999), unit) for unit in rnd.sample(list(UNITS), rnd.randint(1, 3))]
    return Given("".join(f"{n}{unit}" for n, unit in parts), sum(n * UNITS[unit] for n, unit in parts))


@functools.cache
def one_of_words(words: Sequence[str]) -> st.SearchStrategy[Given]:
    """A word of a fixed set, in any case -> the word as the request spells it (they are read
    case-insensitively)."""
    return st.sampled_from([Given(text, word) for word in words
                            for text in dict.fromkeys((word, word.lower(), word.upper()))])


NAMES = pool_values(lambda rnd: Given(*[dns_label(rnd)] * 2), *plain("a", "z9", "web-vm", "a" * 63, "a-" * 31 + "b"))
NAME = st.sampled_from(NAMES)
"""Service, namespace and object names: DNS-1035 labels."""
DNS_LABEL = NAME.map(lambda given: given.text)
PORT_NUMBER = st.integers(1, 65535)
PROTOCOLS = ("TCP", "UDP", "SCTP")
TARGET_PORT = pool(lambda rnd: (lambda t: Given(str(t), t))(rnd.choice((rnd.randint(1, 65535), port_name(rnd)))),
                   Given("1", 1), Given("65535", 65535), *plain("http", "a" * 15, "h2c", "ssh-2"))
SPEC = pool(random_spec, spec(1, None, None), spec(65535, 65535, "SCTP"), spec(53, "dns", "udp"))
PORT_SPECS = st.lists(SPEC, min_size=1, max_size=3, unique_by=lambda given: given.expected[0])
"""Ports with distinct numbers (one number twice on one protocol is a usage error)."""
UNITS = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
DURATION = pool(random_duration, Given("0", 0.0), Given("1h30m", 5400.0), Given("0.5s", 0.5), Given("90s", 90.0))
IPV4 = pool(lambda rnd: random_ip(rnd, 4), *plain("0.0.0.0", "255.255.255.255", "10.96.0.10"))
IPV6 = pool(lambda rnd: random_ip(rnd, 6), *plain("::", "::1", "fe80::1", "2001:db8::a"),
            Given("::FFFF:10.0.0.1", "::ffff:a00:1"))
IP_ADDRESS = {4: IPV4, 6: IPV6, None: st.one_of(IPV4, IPV6)}
"""IP version (None: either) -> an address as typed (IPv6 in either case) -> its canonical text."""
LABEL_KEY_PREFIXES = ("", "example.com/", "app.kubernetes.io/", "a" * 63 + "." + "b" * 63 + "/")
LABEL_PAIRS = pool(lambda rnd: label_text({rnd.choice(LABEL_KEY_PREFIXES) + label_name(rnd):
                                           rnd.choice(("", label_name(rnd))) for _ in range(rnd.randint(1, 3))}),
                   label_text({"a": ""}), label_text({"A" * 63: "z" * 63}), label_text({"x.y/a_b.c-d": "0"}))
"""`k=v,k2=v2` -> {k: v, k2: v2}."""
FREE_TEXTS = pool_values(lambda rnd: Given(*[characters(rnd, ANY_CHARACTERS, 0, 16)] * 2),
                         *plain("", "-", "a b", "x=y", "--x", "https://[::1]:6443", "\udcff", "\x7f\x1b[31m"))
FREE_TEXT = st.sampled_from(FREE_TEXTS)
"""A value no option checks (context, user, token, ...): anything typed reaches the request as typed."""


# -- command lines -----------------------------------------------------------------------------------------
# Plain functions of `draw` and strategies made once: a strategy made inside a draw is validated anew each
# time, which costs more than the parse under test.

TRUE_WORDS = ("true", "True", "TRUE", "t", "1")
FALSE_WORDS = ("false", "False", "FALSE", "f", "0")


@functools.cache
def pick(items: tuple[Any, ...]) -> st.SearchStrategy[Any]:
    return st.sampled_from(items)


@functools.cache
def up_to(highest: int) -> st.SearchStrategy[int]:
    return st.integers(0, highest)


@functools.cache
def boolean_forms(flag: Flag, value: bool | None) -> st.SearchStrategy[Given]:
    """`--x`, `-A`, `--x=true`, ... (value True), `--no-x`, `--x=0`, ... (False), both (None) -> the value."""
    forms = {True: [*flag.spellings, *(f"{flag.spellings[-1]}={word}" for word in TRUE_WORDS)],
             False: [flag.negation, *(f"{flag.spellings[-1]}={word}" for word in FALSE_WORDS)]}
    return st.sampled_from([Given(token, wanted) for wanted in (True, False) if value in (None, wanted)
                            for token in forms[wanted]])


def boolean_tokens(draw: st.DrawFn, flag: Flag, value: bool | None = None) -> Given:
    """A form of boolean `flag` set to `value`; `value=None`: either, or junk after `=` (expected None)."""
    if value is None and draw(up_to(4)) == 0:
        return Given(f"{flag.spellings[-1]}={draw(JUNK)}", None)
    return draw(boolean_forms(flag, value))


def permutation(draw: st.DrawFn, count: int) -> list[int]:
    """0..count-1 in an order drawn as one number (its Lehmer code): one draw rather than one per place, and it
    shrinks towards the order given."""
    code = draw(up_to(math.factorial(count) - 1))
    left, order = list(range(count)), []
    for place in range(count, 0, -1):
        index, code = divmod(code, math.factorial(place - 1))
        order.append(left.pop(index))
    return order


def value_tokens(draw: st.DrawFn, flag: Flag, text: str) -> list[str]:
    """`--f=v`, `--f v`, or for a one-letter flag `-fv` (when that reads back as `v`)."""
    attachable = bool(text) and not text.startswith("=")
    spelling, form = draw(pick(tuple((spelling, form) for spelling in flag.spellings for form in ("=", " ", "attached")
                                     if form != "attached" or (len(spelling) == 2 and attachable))))
    if form == "=":
        return [f"{spelling}={text}"]
    return [spelling + text] if form == "attached" else [spelling, text]


def arrange(draw: st.DrawFn, verb_word: str | None, groups: list[list[str]], positionals: list[str]) -> list[str]:
    """The flag groups in any order, the positionals in theirs among them, and the verb (when typed) first or
    after some flags, as kubectl takes flags anywhere."""
    groups = [groups[index] for index in permutation(draw, len(groups))]
    slots = sorted(draw(up_to(len(groups))) for _ in positionals)
    items: list[tuple[bool, list[str]]] = []  # (a positional?, its words)
    for index, group in enumerate([*groups, None]):
        items.extend((True, [word]) for word, slot in zip(positionals, slots) if slot == index)
        if group is not None:
            items.append((False, group))
    if verb_word is not None:
        first_positional = next((i for i, (positional, _) in enumerate(items) if positional), len(items))
        items.insert(draw(up_to(first_positional)), (False, [verb_word]))
    return [word for _, words in items for word in words]
