#!/usr/bin/python3
"""tests/build/clang_warnings.py: every C file of this build, through clang's
front end with the build's own flags (-Wall -Wextra -Werror ...), so the clang
build keeps working while the suite builds with gcc (ctest: build.clang_warnings).

    clang_warnings.py BUILD_DIR

Reads BUILD_DIR/compile_commands.json, runs `clang -fsyntax-only` on each
entry (no code generation: a few seconds per core), prints every file clang
refuses with its diagnostics and fails; passes when all compile cleanly.
Without clang (scripts/deps.sh test installs clang-14) it exits 77: skipped.
"""
import concurrent.futures
import json
import os
import shlex
import shutil
import subprocess
import sys


def clang_args(entry, cc):
    args = entry["arguments"] if "arguments" in entry else shlex.split(entry["command"])
    out = [cc, "-fsyntax-only"]
    skip = False
    for a in args[1:]:
        if skip:
            skip = False
            continue
        if a == "-o":
            skip = True
            continue
        if a == "-c":
            continue
        out.append(a)
    return out


def main():
    if len(sys.argv) != 2:
        print("usage: clang_warnings.py BUILD_DIR", file=sys.stderr)
        return 2
    cc = shutil.which("clang-14") or shutil.which("clang")
    if not cc:
        print("SKIP: no clang (scripts/deps.sh test installs clang-14)")
        return 77
    with open(os.path.join(sys.argv[1], "compile_commands.json")) as f:
        entries = [e for e in json.load(f) if e["file"].endswith(".c")]
    if not entries:
        print("FAIL: no C file in compile_commands.json")
        return 1

    def run(e):
        p = subprocess.run(clang_args(e, cc), cwd=e["directory"], capture_output=True, text=True)
        return e["file"], p.returncode, p.stderr

    jobs = int(os.environ.get("JOBS", "2"))
    failed = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as ex:
        for path, rc, err in ex.map(run, entries):
            if rc != 0:
                failed += 1
                print(f"FAIL: {path}\n{err}")
    print(f"{len(entries) - failed} of {len(entries)} files compile under {cc} with the build's flags")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
