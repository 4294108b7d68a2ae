"""Whole command lines of each verb: `any_line(verb)` mixes valid values and junk in every flag the parser
declares; `valid_line(verb)` keeps to what the options accept together and says what each flag should
have put in the request (`Line.expected`: dest -> value, checked by the properties)."""

from __future__ import annotations

import importlib
from typing import Any, NamedTuple

from hypothesis import strategies as st

from oc_virt_expose.model.kinds import RESOURCE_KINDS, VM, ResourceKind
from oc_virt_expose.model.service import (
    EXTERNAL_TRAFFIC_POLICIES,
    IP_FAMILY_POLICIES,
    SERVICE_TYPES,
    SESSION_AFFINITIES,
)
from tests.unit.fuzz.strategies import (
    ALNUM,
    DURATION,
    FLAGS,
    FREE_TEXT,
    FREE_TEXTS,
    IP_ADDRESS,
    JUNK,
    JUNKS,
    LABEL_PAIRS,
    NAME,
    NAMES,
    PORT_NUMBER,
    PORT_SPECS,
    PROTOCOLS,
    TARGET_PORT,
    Given,
    arrange,
    boolean_tokens,
    characters,
    dns_label,
    one_of_words,
    pick,
    plain,
    pool,
    up_to,
    value_tokens,
)


class Line(NamedTuple):
    argv: list[str]
    expected: dict[str, Any]
    """Dest (or `targets`) -> what the request should hold."""


def outputs(verb: str) -> tuple[str, ...]:
    return tuple(output.value for output in importlib.import_module(f"oc_virt_expose.commands.{verb}.options").OUTPUTS)


def as_typed(given: st.SearchStrategy[Given]) -> st.SearchStrategy[Given]:
    """Values the request keeps as typed."""
    return given.map(lambda value: Given(value.text, value.text))


def number(low: int, high: int) -> st.SearchStrategy[Given]:
    return st.integers(low, high).map(lambda n: Given(str(n), n))


CONNECTION = {
    "kubeconfig": FREE_TEXT, "context": FREE_TEXT, "cluster": FREE_TEXT, "user": FREE_TEXT,
    "namespace": NAME, "server": FREE_TEXT, "token": FREE_TEXT, "certificate_authority": FREE_TEXT,
    "tls_server_name": FREE_TEXT, "request_timeout": as_typed(DURATION),
    "as_user": st.sampled_from([given for given in FREE_TEXTS if given.text]),  # --as "" impersonates no one
    "as_groups": FREE_TEXT, "as_uid": FREE_TEXT,
    "verbosity": number(0, 10), "dry_run": one_of_words(("none", "client", "server")),
}
HOST_NAMES = pool(lambda rnd: Given(*[".".join(dns_label(rnd) for _ in range(rnd.randint(1, 3)))] * 2),
                  *plain("a", "www.example.com", ".".join(["a" * 63] * 3) + "." + "b" * 61))
PATHS = pool(lambda rnd: Given(*["/" + characters(rnd, ALNUM + "/-._~%", 0, 12)] * 2), *plain("/", "/app/"))
VALUES: dict[str, dict[str, st.SearchStrategy[Given]]] = {
    "expose": {
        **CONNECTION, "output": one_of_words(outputs("expose")),
        "port": PORT_SPECS.map(lambda specs: Given(",".join(s.text for s in specs), [s.expected for s in specs])),
        "target_port": TARGET_PORT, "protocol": one_of_words(PROTOCOLS),
        "node_port": number(1, 65535), "port_name": NAME, "service_name": NAME,
        "service_type": one_of_words(SERVICE_TYPES),
        "cluster_ip": st.one_of(IP_ADDRESS[None], one_of_words(("None",))),
        "external_ip": as_typed(IP_ADDRESS[None]), "load_balancer_ip": as_typed(IP_ADDRESS[None]),
        "session_affinity": one_of_words(SESSION_AFFINITIES), "ip_family_policy": one_of_words(IP_FAMILY_POLICIES),
        "ip_families": one_of_words(("IPv4", "IPv6")), "labels": LABEL_PAIRS, "selector": LABEL_PAIRS,
        "external_traffic_policy": one_of_words(EXTERNAL_TRAFFIC_POLICIES), "field_manager": as_typed(NAME),
        "restart": one_of_words(("auto", "always", "never")), "vm_selector": LABEL_PAIRS,
        "name_suffix": st.sampled_from(plain(*("-" + name.text for name in NAMES if len(name.text) < 62))),
        "parallel": number(1, 32),
        "hostname": HOST_NAMES, "path": PATHS,
        "route_port": PORT_NUMBER.map(lambda n: Given(str(n), str(n))),
        "tls": one_of_words(("edge", "passthrough", "reencrypt")),
        "insecure_policy": one_of_words(("Allow", "Redirect", "None")),
        "cert": FREE_TEXT, "key": FREE_TEXT, "ca_cert": FREE_TEXT, "dest_ca_cert": FREE_TEXT,
        "timeout": DURATION,
    },
    "list": {**CONNECTION, "output": one_of_words(outputs("list")), "selector": LABEL_PAIRS},
    "delete": {**CONNECTION, "output": one_of_words(outputs("delete")), "service_name": NAME},
}
"""Verb -> dest -> a valid value, alone (`valid_line` adds what flags need of each other); booleans are
not here: every boolean is a `Flag.boolean`."""
MIXED = {verb: {flag.dest: st.one_of(VALUES[verb][flag.dest].map(lambda given: given.text), *JUNKS)
                if flag.dest in VALUES[verb] else JUNK for flag in FLAGS[verb]} for verb in FLAGS}
"""Verb -> dest -> its valid values and junk, as typed."""


def type_words(kind: ResourceKind) -> tuple[str, ...]:
    """`vm`, `VMs`, `virtualmachine`, `virtualmachines.kubevirt.io`, ..."""
    words = (kind.short, kind.short + "s", kind.kind.lower(), kind.plural, kind.plural + ".kubevirt.io")
    return tuple(case for word in words for case in (word, word.upper(), word.capitalize()))


TYPES = st.sampled_from([Given(word, kind) for kind in RESOURCE_KINDS for word in type_words(kind)])
WORDS = st.one_of(TYPES.map(lambda given: given.text), NAME.map(lambda given: given.text), *JUNKS)


# -- any line ----------------------------------------------------------------------------------------------

@st.composite
def any_line(draw: st.DrawFn, verb: str, excluded: tuple[str, ...] = ()) -> list[str]:
    """Up to 6 flags of `verb` (any but the `excluded` dests, repeated or not), each valid or junk in any
    spelling, sometimes a value flag left without its value at the end, and up to 4 positional words, valid
    or junk."""
    flags = tuple(flag for flag in FLAGS[verb] if flag.dest not in excluded)
    groups = []
    for index in draw(st.lists(up_to(len(flags) - 1), max_size=6)):
        flag = flags[index]
        groups.append([boolean_tokens(draw, flag).text] if flag.boolean else
                      value_tokens(draw, flag, draw(MIXED[verb][flag.dest])))
    missing = draw(pick((None, *(f.spellings[-1] for f in flags if not f.boolean)))) if draw(up_to(9)) == 0 else None
    positionals = draw(st.lists(WORDS, max_size=4))
    verb_word = None if verb == "expose" and draw(st.booleans()) else verb
    return arrange(draw, verb_word, groups, positionals) + ([missing] if missing else [])


# -- valid lines -------------------------------------------------------------------------------------------

CHOICES = st.integers(0, 2**80 - 1)
EXPOSE_VERB = pick((None, "expose"))
IP_FAMILIES = pick(((), ("IPv4",), ("IPv6",), ("IPv4", "IPv6"), ("IPv6", "IPv4")))
BATCH_MODES = pick(("one", "several", "vm_selector", "all"))
NAMES = st.lists(NAME, min_size=1, max_size=3)
EXTERNAL_IPS = st.lists(as_typed(IP_ADDRESS[None]), min_size=1, max_size=3)  # kept as typed, unlike --cluster-ip
GROUPS = st.lists(FREE_TEXT, min_size=1, max_size=3)
TLS_FILES = {"edge": ("cert", "key", "ca_cert"), "reencrypt": ("cert", "key", "ca_cert", "dest_ca_cert")}


class Builder:
    """Collects the flags of one valid line: their tokens and what each should put in the request."""

    def __init__(self, draw: st.DrawFn, verb: str) -> None:
        self.draw, self.verb = draw, verb
        self.flags = {flag.dest: flag for flag in FLAGS[verb]}
        self.groups: list[list[str]] = []
        self.expected: dict[str, Any] = {}
        self.choices = draw(CHOICES)

    def maybe(self, what: str) -> bool:
        """A yes or no about `what` (one bit of a number drawn once: far cheaper than a draw each, and it
        shrinks towards fewer flags)."""
        self.choices, bit = divmod(self.choices, 2)
        return bool(bit)

    def value(self, dest: str, given: Given | None = None) -> Any:
        """One flag, sometimes typed twice (the last one counts, as in kubectl); returns the value expected."""
        flag = self.flags[dest]
        given = given or self.draw(VALUES[self.verb][dest])
        group = []
        if not flag.repeatable and self.maybe("typed twice") and self.maybe("typed twice"):  # 1 in 4
            group += value_tokens(self.draw, flag, self.draw(VALUES[self.verb][dest]).text)
        self.groups.append(group + value_tokens(self.draw, flag, given.text))
        self.expected[dest] = given.expected
        return given.expected

    def repeated(self, dest: str, items: list[Given], separator: str = ",") -> list[Any]:
        """A repeatable flag: its items over one or more uses (`a,b` or `a` each; `separator=""`: one a use),
        kept in order."""
        flag = self.flags[dest]
        cut = [index for index in range(1, len(items)) if not separator or self.maybe("a new use")]
        self.groups.append([token for start, end in zip([0, *cut], [*cut, len(items)]) for token in value_tokens(
            self.draw, flag, separator.join(item.text for item in items[start:end]))])
        self.expected[dest] = [item.expected for item in items]
        return self.expected[dest]

    def labels(self, dest: str) -> dict[str, str]:
        pairs = self.draw(LABEL_PAIRS)
        self.repeated(dest, [Given(f"{key}={value}", (key, value)) for key, value in pairs.expected.items()])
        self.expected[dest] = pairs.expected
        return pairs.expected

    def boolean(self, dest: str, value: bool | None = None) -> bool:
        """`--x`/`--no-x`/`--x=false`..., once or twice; the last one counts."""
        last = self.maybe(dest) if value is None else value
        values = [not last, last] if self.maybe("typed twice") else [last]
        self.groups.append([boolean_tokens(self.draw, self.flags[dest], wanted).text for wanted in values])
        self.expected[dest] = values[-1]
        return values[-1]

    def common(self) -> None:
        """The flags every verb has: output, connection, dry-run."""
        for dest in ("output", "verbosity", "dry_run", "kubeconfig", "context", "cluster", "user", "namespace",
                     "server", "token", "tls_server_name", "request_timeout"):
            if dest in self.flags and self.maybe(dest):
                self.value(dest)
        if self.maybe("TLS"):
            if self.maybe("insecure"):
                self.boolean("insecure_skip_tls_verify", True)
            else:
                self.value("certificate_authority")
        if self.maybe("as_user"):
            self.value("as_user")
            if self.maybe("as_groups"):
                groups = self.repeated("as_groups", self.draw(GROUPS), "")
                self.expected["as_groups"] = tuple(groups)
            if self.maybe("as_uid"):
                self.value("as_uid")

    def line(self, verb_word: str | None, positionals: list[str]) -> Line:
        return Line(arrange(self.draw, verb_word, self.groups, positionals), self.expected)


@st.composite
def valid_line(draw: st.DrawFn, verb: str, pem_files: dict[str, Given]) -> Line:
    """A line `verb`'s options accept; `pem_files`: flag dest -> a PEM file it takes (path, text)."""
    build = Builder(draw, verb)
    build.common()
    type_word = draw(TYPES)
    kind, type_text = type_word.expected, type_word.text
    if verb == "list":
        names = [given.text for given in draw(st.lists(NAME, max_size=3))]
        if not names and build.maybe("all_namespaces"):
            build.boolean("all_namespaces", True)
        if build.maybe("selector"):
            build.labels("selector")
        typed = bool(names) or build.maybe("TYPE")
        build.expected["targets"] = (kind if typed else VM, tuple(dict.fromkeys(names)))
        slashed = names and build.maybe("TYPE/NAME")
        return build.line(verb, [f"{type_text}/{name}" for name in names] if slashed else
                          [type_text, *names] if typed else [])
    name = draw(NAME).text
    positionals = [type_text, name] if build.maybe("TYPE NAME") else [f"{type_text}/{name}"]
    if verb == "delete":
        if build.maybe("service_name"):
            build.value("service_name")
        if build.maybe("keep_label"):
            build.boolean("keep_label")
        build.expected["targets"] = (kind, name)
        return build.line(verb, positionals)
    return expose_line(build, kind, type_text, name, positionals, pem_files)


def expose_line(build: Builder, kind: ResourceKind, type_text: str, name: str, positionals: list[str],
                pem_files: dict[str, Given]) -> Line:
    draw = build.draw
    for dest in ("target_port", "protocol", "session_affinity", "field_manager", "timeout"):
        if build.maybe(dest):
            build.value(dest)
    for dest in ("overwrite", "force", "wait"):
        if build.maybe(dest):
            build.boolean(dest)
    if build.maybe("external_ip"):
        build.repeated("external_ip", draw(EXTERNAL_IPS))
    if build.maybe("labels"):
        build.labels("labels")
    if kind is VM and build.maybe("restart"):
        build.value("restart")
    if kind is VM and build.maybe("start"):
        build.boolean("start")
    families = draw(IP_FAMILIES)
    if families:
        build.repeated("ip_families", [draw(one_of_words((family,))) for family in families])
    policy = build.value("ip_family_policy", draw(one_of_words(IP_FAMILY_POLICIES[len(families) // 2:]))) \
        if build.maybe("ip_family_policy") else None
    build.expected["ip_family_policy"] = policy or ("PreferDualStack" if len(families) == 2 else None)
    service_type = build.value("service_type") if build.maybe("service_type") else "ClusterIP"
    if service_type != "ClusterIP" and build.maybe("external_traffic_policy"):
        build.value("external_traffic_policy")
    specs = build.repeated("port", draw(PORT_SPECS)) if build.maybe("port") else []
    mode = draw(BATCH_MODES)
    if mode != "one":
        return batch_line(build, kind, type_text, name, mode)
    if build.maybe("service_name"):
        build.value("service_name")
    if build.maybe("selector"):
        build.labels("selector")
    if len(specs) <= 1 and build.maybe("port_name"):
        build.value("port_name")
    if service_type != "ClusterIP" and len(specs) <= 1 and build.maybe("node_port"):
        build.value("node_port")
    if service_type == "LoadBalancer" and build.maybe("load_balancer_ip"):
        build.value("load_balancer_ip")
    if build.maybe("cluster_ip"):
        headless = service_type == "ClusterIP" and build.maybe("headless")
        version = {"IPv4": 4, "IPv6": 6}.get(families[0]) if families else None
        build.value("cluster_ip", draw(one_of_words(("None",)) if headless else IP_ADDRESS[version]))
    if build.maybe("route"):
        route_flags(build, specs, pem_files)
    build.expected["targets"] = (kind, name)
    return build.line(draw(EXPOSE_VERB), positionals)


def route_flags(build: Builder, specs: list[Any], pem_files: dict[str, Given]) -> None:
    """`--route` and its flags as `oc create route` takes them together."""
    draw = build.draw
    build.boolean("route", True)
    if build.maybe("hostname"):
        build.value("hostname")
    if specs:  # the Route's port, among several: the first
        build.value("route_port", Given(str(specs[0][0]), str(specs[0][0])))
    elif build.maybe("route_port"):
        build.value("route_port")
    tls = build.value("tls") if build.maybe("tls") else None
    if tls != "passthrough" and build.maybe("path"):
        build.value("path")
    if tls is not None and build.maybe("insecure_policy"):
        policies = ("Redirect", "None") if tls == "passthrough" else ("Allow", "Redirect", "None")
        build.value("insecure_policy", draw(one_of_words(policies)))
    chosen = [dest for dest in TLS_FILES.get(tls or "", ()) if build.maybe(dest)]
    if ("cert" in chosen) != ("key" in chosen):
        chosen = [dest for dest in chosen if dest not in ("cert", "key")]
    for dest in chosen:
        build.value(dest, pem_files[dest])


def batch_line(build: Builder, kind: ResourceKind, type_text: str, name: str, mode: str) -> Line:
    """Several objects: NAMEs, `--vm-selector` or `--all`, with `--name-suffix` and `--parallel`."""
    draw = build.draw
    if mode == "several":
        names = [name, *(given.text for given in draw(NAMES))]
        if len(set(names)) == 1:
            names.append(name + "-2")
        positionals = [type_text, *names]
        build.expected["targets"] = (kind, tuple(dict.fromkeys(names)), None, False)
    elif mode == "vm_selector":
        positionals = [type_text]
        build.expected["targets"] = (kind, (), build.labels("vm_selector"), False)
    else:
        positionals = [type_text]
        build.boolean("all", True)
        build.expected["targets"] = (kind, (), None, True)
    for dest in ("name_suffix", "parallel"):
        if build.maybe(dest):
            build.value(dest)
    return build.line(draw(EXPOSE_VERB), positionals)
