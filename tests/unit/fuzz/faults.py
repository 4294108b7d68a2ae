"""One fault in a line: the values each flag refuses whatever else is given (`INVALID`), and lines made of a
valid line plus one fault, drawn (`line_with_a_fault`) or all of them (`every_fault`)."""

from __future__ import annotations

from typing import NamedTuple

from hypothesis import strategies as st

from tests.unit.fuzz.command_lines import valid_line
from tests.unit.fuzz.strategies import (
    FALSE_WORDS,
    FLAGS,
    JUNK_WORDS,
    LONG,
    TEXT,
    TRUE_WORDS,
    Given,
    pick,
    value_tokens,
)

INVALID = {
    "port": ("abc", "0", "65536", "80:", "80/ICMP", "²", "80,,81", "80:Bad_Name", "--"),
    "target_port": ("0", "Bad_Name", "²", "ab--c"), "protocol": ("ICMP", ""), "node_port": ("abc", "0", "²", ""),
    "port_name": ("Bad_Name", ""), "service_name": ("Not_A_Name", "1abc", "a" * 64),
    "service_type": ("Bogus", "ExternalName"), "cluster_ip": ("10.0.0.300", "x", ""), "external_ip": ("x", "1.2.3"),
    "load_balancer_ip": ("x",), "session_affinity": ("Sticky",), "ip_family_policy": ("DualStack", ""),
    "ip_families": ("IPv5", "IPv4,IPv4"), "labels": ("a", "a!=b", "-a=b", "virt-expose.kubevirt.io/x=y"),
    "selector": ("a", "a!=b", "a=b,a=c"), "vm_selector": ("a", "=", "a=b=c"),
    "external_traffic_policy": ("Bogus",), "field_manager": ("", "f" * 200), "restart": ("sometimes",),
    "hostname": ("Bad_Host", "-a"), "path": ("app",), "tls": ("none", "TLS"), "insecure_policy": ("Sometimes",),
    "cert": ("/nonexistent/cert.pem",), "key": ("/nonexistent/key.pem",), "ca_cert": ("/nonexistent/ca.pem",),
    "dest_ca_cert": ("/nonexistent/ca.pem",), "timeout": ("5y", "-5s", "²", "1h-1m"), "output": ("table", "--"),
    "verbosity": ("x", "-1", "²"), "dry_run": ("maybe", "True"), "namespace": ("Bad_NS", "", "a" * 64),
    "request_timeout": ("x", "5y", "²"),
}
"""Dest -> values refused whatever else the line holds (for every verb that has the flag)."""
IN_EXPOSE = {"selector": ("kubevirt.io/created-by=1",), "port": ("80,80",)}
"""Dest -> values refused by expose, though another verb's flag of that dest takes them (list's -l)."""
IN_BATCH = {"parallel": ("0", "33", "x", "²"), "name_suffix": ("_X", "-" + "a" * 62)}
"""Dest -> values refused when the line exposes several objects (one object ignores these flags)."""
BOOLEAN_WORDS = {word.lower() for word in (*TRUE_WORDS, *FALSE_WORDS)}
NOT_BOOLEAN = st.one_of(st.sampled_from([word for word in JUNK_WORDS if word.lower() not in BOOLEAN_WORDS]),
                        TEXT.filter(lambda text: text.lower() not in BOOLEAN_WORDS), LONG)
"""Junk after `--x=`: anything but the words kubectl reads as true or false."""
UNKNOWN_FLAGS = ("--no-such-flag", "--no-such-flag=1", "-Z", "--portt=80")


class Fault(NamedTuple):
    argv: list[str]
    culprit: str
    """The dest of the flag at fault, or the unknown word itself."""


@st.composite
def line_with_a_fault(draw: st.DrawFn, verb: str, pem_files: dict[str, Given]) -> Fault:
    """A valid line plus, at its end, one fault: a value refused whatever else is given (`INVALID`), a
    boolean set to junk, a value flag with its value missing, or an unknown flag."""
    line = draw(valid_line(verb, pem_files))
    batch = len(line.expected.get("targets", ())) == 4
    refused = {dest: (*INVALID.get(dest, ()), *(IN_EXPOSE.get(dest, ()) if verb == "expose" else ()))
               for dest in {*INVALID, *IN_EXPOSE}}
    refused.update(IN_BATCH if batch else {})
    flags = [flag for flag in FLAGS[verb] if flag.boolean or flag.dest in refused]
    fault = draw(pick(("value", "boolean", "missing", "unknown")))
    if fault == "unknown":
        word = draw(pick(UNKNOWN_FLAGS))
        return Fault([*line.argv, word], word)
    flag = draw(pick(tuple(f for f in flags if f.boolean == (fault == "boolean")) if fault != "missing" else
                     tuple(f for f in FLAGS[verb] if not f.boolean and f.dest != "dry_run")))  # bare: client
    if fault == "missing":
        return Fault([*line.argv, draw(pick(flag.spellings))], flag.dest)
    if fault == "boolean":
        return Fault([*line.argv, f"{flag.spellings[-1]}={draw(NOT_BOOLEAN)}"], flag.dest)
    value = draw(pick(refused[flag.dest]))
    tokens = [f"{flag.spellings[-1]}={value}"] if flag.dest == "dry_run" else value_tokens(draw, flag, value)
    return Fault([*line.argv, *tokens], flag.dest)  # a bare --dry-run takes no word after it


def every_fault(verb: str, batch: bool) -> list[tuple[str, list[str]]]:
    """(dest at fault, tokens) for every refused value of `INVALID` (with `IN_EXPOSE`, and `IN_BATCH` for a line
    of several objects) as `--f=v` and as `--f v`, every boolean set to junk, every value flag left without
    its value."""
    refused = {**INVALID}
    for extra in (IN_EXPOSE if verb == "expose" else {}, IN_BATCH if batch else {}):
        refused.update({dest: (*refused.get(dest, ()), *values) for dest, values in extra.items()})
    faults = []
    for flag in FLAGS[verb]:
        spelling = flag.spellings[-1]
        if flag.boolean:
            faults.append((flag.dest, [f"{spelling}=maybe"]))
            continue
        if flag.dest != "dry_run":  # a bare --dry-run means client
            faults.append((flag.dest, [spelling]))
        for value in refused.get(flag.dest, ()):
            faults.append((flag.dest, [f"{spelling}={value}"]))
            if flag.dest != "dry_run":
                faults.append((flag.dest, [spelling, value]))
    return faults
