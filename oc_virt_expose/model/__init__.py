"""Pure values and rules on API objects (plain dicts as the server sends them): kinds, accessors, label
syntax, ports, the selector, reachability, the Service builder, endpoint matching, and the settings every
command takes. No I/O; imports nothing from `access`, `commands`, `ui` or `cli` (a unit test holds this).
"""
