#!/usr/bin/env python3
"""Validates SEPA XML files against the official ISO 20022 schemas shipped with the PyPI package
`sepaxml` (which bundles pain.001 and pain.008 XSDs), using `xmlschema`, its dependency.

    validate-sepa.py FILE.xml [FILE.xml ...]

The schema is chosen by the document's namespace (e.g. urn:iso:std:iso:20022:tech:xsd:pain.008.001.02).
Exit 0 when every file is valid; 1 naming the first problem of each invalid file (the element path,
not its content, which may be personal data); 2 on bad usage or a missing schema.

The Rust tests run it with the venv in RATHAUS_TEST_PYTHON (default /var/tmp/rathaus-venv/bin/python):
    python3 -m venv /var/tmp/rathaus-venv && /var/tmp/rathaus-venv/bin/pip install sepaxml
"""
import os
import re
import sys


def main(paths):
    if not paths:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    try:
        import sepaxml
        import xmlschema
    except ImportError as e:
        print(f"missing Python package: {e.name} (pip install sepaxml)", file=sys.stderr)
        return 2
    schemas = os.path.join(os.path.dirname(sepaxml.__file__), "schemas")
    status = 0
    for path in paths:
        with open(path, "rb") as f:
            data = f.read()
        m = re.search(rb'xmlns="urn:iso:std:iso:20022:tech:xsd:([a-z0-9.]+)"', data)
        if not m:
            print(f"{path}: no ISO 20022 namespace found", file=sys.stderr)
            return 2
        name = m.group(1).decode()
        xsd = os.path.join(schemas, name + ".xsd")
        if not os.path.exists(xsd):
            print(f"{path}: no schema {name}.xsd in {schemas}", file=sys.stderr)
            return 2
        schema = xmlschema.XMLSchema(xsd)
        errors = list(schema.iter_errors(data.decode("utf-8")))
        if errors:
            first = errors[0]
            # Quoted values in the reason may be names or account numbers: left out.
            reason = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", str(first.reason))
            print(f"{path}: INVALID against {name}: {len(errors)} problem(s); first at {first.path}: {reason}")
            status = 1
        else:
            print(f"{path}: valid {name}")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
