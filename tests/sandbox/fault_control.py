"""The fault proxy's control interface: the paths tests use (never forwarded; their client is FaultProxy in
tests/e2e/sandbox_infrastructure.py).

    POST   /sandbox-faults/rules          add a rule (JSON, see fault_rules.py); answers the rule with its id
    GET    /sandbox-faults/rules          the rules, with `remaining` and `hits`
    DELETE /sandbox-faults/rules[/ID]     remove all rules, or one
    GET    /sandbox-faults/requests?since=SEQ   the requests seen (seq, time, method, path, query, watch, caller,
                                          status, rule, action)
    GET    /sandbox-faults/watches        the watches being relayed now (id, path, query, seconds)
    GET    /sandbox-faults/held           the requests a `delay` holds now (method, path, query)
    POST   /sandbox-faults/watches/cut    {"path": REGEX, "graceful": false, "waitSeconds": 5, "error": 410}: end
                                          the matching watches now (waiting up to waitSeconds for one to open;
                                          with `error`, gracefully after an ERROR event of that code)
The three GETs take `wait=SECONDS`: the answer waits until there is a request after `since`, a watch with an
id above `after`, or a held request (or until the time passes), so a test waits on the proxy, not on a clock.
    GET    /sandbox-faults/healthz
"""

from __future__ import annotations

import json
import re
import time
import urllib.parse

from tests.sandbox.fault_rules import BadRule, Faults, Request, Rule, json_response, response_bytes

CONTROL = "/sandbox-faults"


class Control:
    """The control paths under /sandbox-faults."""

    def __init__(self, faults: Faults) -> None:
        self.faults = faults

    async def answer(self, request: Request) -> bytes:
        try:
            return await self._answer(request)
        except (BadRule, ValueError, KeyError, TypeError) as error:
            return json_response(400, {"error": str(error)})

    async def _answer(self, request: Request) -> bytes:
        route = request.path[len(CONTROL):].rstrip("/")
        method = request.method
        if route == "/healthz":
            return response_bytes(200, b"ok", content_type="text/plain")
        if route == "/rules" and method == "GET":
            return json_response(200, {"rules": [rule.to_json() for rule in self.faults.rules]})
        if route == "/rules" and method == "POST":
            rule = Rule.from_json(json.loads(request.body or b"{}"))
            self.faults.rules.append(rule)
            return json_response(201, rule.to_json())
        if route == "/rules" and method == "DELETE":
            count, self.faults.rules = len(self.faults.rules), []
            return json_response(200, {"deleted": count})
        if route.startswith("/rules/") and method == "DELETE":
            rule_id = route[len("/rules/"):]
            kept = [rule for rule in self.faults.rules if rule.id != rule_id]
            found = len(kept) != len(self.faults.rules)
            self.faults.rules = kept
            return json_response(200 if found else 404, {"deleted": int(found)})
        query = urllib.parse.parse_qs(request.query)
        wait = float(query.get("wait", ["0"])[0])
        if route == "/requests" and method == "GET":
            since = int(query.get("since", ["0"])[0])
            await self.faults.until(lambda: self.faults.seq > since, wait)
            return json_response(200, {"requests": [e for e in self.faults.log if e["seq"] > since],
                                       "last": self.faults.seq})
        if route == "/watches" and method == "GET":
            after = int(query.get("after", ["0"])[0])
            await self.faults.until(lambda: any(w > after for w in self.faults.watches), wait)
            return json_response(200, {"watches": [
                {"id": w.id, "path": w.request.path, "query": w.request.query,
                 "seconds": round(time.monotonic() - w.started, 3)} for w in self.faults.watches.values()]})
        if route == "/held" and method == "GET":
            await self.faults.until(lambda: bool(self.faults.held), wait)
            return json_response(200, {"held": [{"method": r.method, "path": r.path, "query": r.query}
                                                for r in self.faults.held.values()]})
        if route == "/watches/cut" and method == "POST":
            spec = json.loads(request.body or b"{}")
            path = re.compile(spec["path"]) if spec.get("path") else None
            error = spec.get("error")
            count = await self.faults.cut_watches(path, bool(spec.get("graceful", False)),
                                                  float(spec.get("waitSeconds", 0)),
                                                  int(error) if error is not None else None)
            return json_response(200, {"cut": count})
        return json_response(404, {"error": f"no control {method} {request.path}"})
