"""Defaults several layers name (the parser's help, the options, the access layer): plain constants, so that
`--help` imports nothing else for them."""

DEFAULT_FIELD_MANAGER = "virt-expose"
DEFAULT_TIMEOUT = "5m"
