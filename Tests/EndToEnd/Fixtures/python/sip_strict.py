"""Parses SIP responses (files named on the command line) with sipmessage, an independent
RFC 3261 grammar from PyPI, touching every header it types, and prints one JSON line per
message: its status and its Contact addresses with their parameters. Exits 1 on the first
message the grammar refuses."""
import json
import sys

import sipmessage

for path in sys.argv[1:]:
    data = open(path, "rb").read()
    try:
        m = sipmessage.Message.parse(data)
        _ = (m.via, m.from_address, m.to_address, m.call_id, m.cseq, m.expires, m.min_expires, m.date, m.content_length)
        if m.headers.get("WWW-Authenticate"):
            _ = m.www_authenticate
        raw = m.headers.getlist("Contact")
        contacts = []
        for value in raw:
            for a in sipmessage.Address.parse_many(value):
                contacts.append({"uri": str(a.uri), "parameters": dict(a.parameters)})
        print(json.dumps({"file": path, "code": m.code, "contacts": contacts, "raw": raw}))
    except Exception as e:  # noqa: BLE001 — report what the grammar refused
        print(json.dumps({"file": path, "error": f"{type(e).__name__}: {e}"}))
        sys.exit(1)
