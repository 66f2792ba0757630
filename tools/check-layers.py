#!/usr/bin/env python3
"""Checks every #include in libshoal against the layering table of overview.md.

A module under src/lib/<module>/ may include headers of its own module and of modules on a lower
line; modules on the same line never include each other. Public headers (include/shoal/*.h) include
only the C library and other public headers. Programs (src/<program>/) may include any module.
Exits 1 and lists every violation, naming the file, line and rule broken."""
import os
import re
import sys

LAYERS = [
    ["util"],
    ["crypto", "wire"],
    ["identity", "net"],
    ["store", "dir"],
    ["onion"],
    ["node", "e2e"],
    ["client"],
]
RANK = {m: i for i, line in enumerate(LAYERS) for m in line}
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')
SYSTEM_OK = re.compile(r'^[a-z0-9_./+-]+\.h$')


def module_of(header):
    top = header.split("/", 1)[0]
    return top if top in RANK and "/" in header else None


def check_file(path, own, errors):
    with open(path, encoding="utf-8", errors="replace") as f:
        for lineno, line in enumerate(f, 1):
            m = INCLUDE.match(line)
            if not m:
                continue
            header = m.group(2)
            target = module_of(header)
            if own == "public":
                if target is not None or (m.group(1) == '"'):
                    errors.append(f"{path}:{lineno}: public header includes '{header}'; "
                                  "include/shoal/ may include only system and <shoal/...> headers")
                continue
            if target is None or target == own:
                continue
            if RANK[target] >= RANK[own]:
                rel = "same line as" if RANK[target] == RANK[own] else "above"
                errors.append(f"{path}:{lineno}: module '{own}' includes '{header}' of module "
                              f"'{target}', which is on the {rel} it (layer {RANK[own]} may use "
                              f"only layers below {RANK[own]})")


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    errors = []
    checked = 0
    lib = os.path.join(root, "src", "lib")
    for module in sorted(os.listdir(lib)):
        mdir = os.path.join(lib, module)
        if not os.path.isdir(mdir):
            continue
        if module not in RANK:
            errors.append(f"{mdir}: module '{module}' is not in the layering table")
            continue
        for dirpath, _, files in os.walk(mdir):
            for name in files:
                if name.endswith((".c", ".h")):
                    check_file(os.path.join(dirpath, name), module, errors)
                    checked += 1
    pub = os.path.join(root, "include", "shoal")
    if os.path.isdir(pub):
        for name in sorted(os.listdir(pub)):
            if name.endswith(".h"):
                check_file(os.path.join(pub, name), "public", errors)
                checked += 1
    for e in errors:
        print(e)
    print(f"check-layers: {checked} files, {len(errors)} violations")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
