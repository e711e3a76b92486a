#!/usr/bin/env python3
"""Obtains the 49 RFC 4475 torture-test messages (byte-exact) for the test suite.

Usage: rfc4475.py DEST

The messages are the files of RFC 4475's Appendix A archive (a base64-encoded, gzip-compressed
tar). They are not kept in this repository; this script puts them in DEST from, in order:
  1. $HOTLINE_RFC4475_SOURCE, a folder holding the .dat files;
  2. ../shared/fixtures/rfc4475 beside the repository (a local mirror), when present;
  3. the RFC as published by the RFC Editor (https://www.rfc-editor.org/rfc/rfc4475.txt),
     whose archive is extracted.
Every file is checked against Tests/Fixtures/rfc4475.sha256. Exits non-zero with the reason
when no source gives all 49 files intact: the tests never run without them, and never skip.
"""
import base64, hashlib, io, os, re, shutil, sys, tarfile, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MANIFEST = os.path.join(ROOT, "Tests", "Fixtures", "rfc4475.sha256")
URL = "https://www.rfc-editor.org/rfc/rfc4475.txt"


def manifest():
    out = {}
    with open(MANIFEST) as f:
        for line in f:
            digest, name = line.split()
            out[name] = digest
    return out


def verify(files, want):
    """files: name -> bytes. Returns the reason they do not match, or None."""
    missing = sorted(set(want) - set(files))
    if missing:
        return f"{len(missing)} of {len(want)} messages missing ({', '.join(missing[:5])}…)"
    bad = [n for n in want if hashlib.sha256(files[n]).hexdigest() != want[n]]
    if bad:
        return f"{len(bad)} messages differ from the manifest ({', '.join(bad[:5])})"
    return None


def from_folder(path, want):
    if not os.path.isdir(path):
        return None, f"{path}: no such folder"
    files = {}
    for n in want:
        p = os.path.join(path, n)
        if os.path.isfile(p):
            with open(p, "rb") as f:
                files[n] = f.read()
    return files, None


def from_rfc(text, want):
    """Extracts the Appendix A archive from the RFC's text."""
    m = re.search(r"BEGIN MESSAGE ARCHIVE[^\n]*\n(.*?)\n[^\n]*END MESSAGE ARCHIVE", text, re.S)
    if not m:
        return None, "the RFC text has no message archive"
    b64 = "".join(l.strip() for l in m.group(1).splitlines() if re.fullmatch(r"\s*[A-Za-z0-9+/=]+\s*", l))
    tar = tarfile.open(fileobj=io.BytesIO(base64.b64decode(b64)), mode="r:gz")
    files = {}
    for member in tar.getmembers():
        name = os.path.basename(member.name)
        if member.isfile() and name in want:
            files[name] = tar.extractfile(member).read()
    return files, None


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    dest = sys.argv[1]
    want = manifest()
    tried = []
    sources = []
    if os.environ.get("HOTLINE_RFC4475_SOURCE"):
        sources.append(("$HOTLINE_RFC4475_SOURCE", lambda: from_folder(os.environ["HOTLINE_RFC4475_SOURCE"], want)))
    sources.append(("../shared/fixtures/rfc4475", lambda: from_folder(os.path.join(os.path.dirname(ROOT), "shared", "fixtures", "rfc4475"), want)))
    sources.append(("the current folder", lambda: from_folder(dest, want)))

    def download():
        try:
            with urllib.request.urlopen(URL, timeout=30) as r:
                return from_rfc(r.read().decode("ascii", "replace"), want)
        except Exception as e:  # no network, refused, bad archive
            return None, f"{URL}: {e}"
    sources.append((URL, download))
    for label, get in sources:
        files, why = get()
        why = why or verify(files, want)
        if why is None:
            os.makedirs(dest, exist_ok=True)
            for n, b in files.items():
                with open(os.path.join(dest, n), "wb") as f:
                    f.write(b)
            print(f"rfc4475: {len(files)} messages from {label} in {dest}")
            return
        tried.append(f"  {label}: {why}")
    sys.exit("rfc4475: cannot obtain the RFC 4475 torture messages; tried:\n" + "\n".join(tried)
             + "\nGive a folder with them in HOTLINE_RFC4475_SOURCE, or network access to the RFC Editor.")


if __name__ == "__main__":
    main()
