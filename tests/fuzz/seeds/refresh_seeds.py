#!/usr/bin/env python3
"""Grows the checked-in seed corpora by fuzzing, then keeps a small, high-value subset.

Usage: tests/fuzz/seeds/refresh_seeds.py BUILDDIR [--seconds N] [--max-files N]
                                         [--max-bytes N] [NAME...]

BUILDDIR holds the <name>_fuzz binaries (a -Dfuzz=true sanitizer build). For each fuzzer (all
of them by default, one after the other, since the machine's cores are shared):
  1. make_seeds.py rewrites the hand-crafted seeds (tests/fuzz/seeds/<name>/hand-*);
  2. the fuzzer runs for --seconds from those seeds into BUILDDIR/seed-refresh/<name>/corpus
     (kept between runs, so repeated refreshes accumulate);
  3. libFuzzer's -set_cover_merge records every input's features in a control file, and a
     greedy set cover picks, after the hand seeds, the inputs that add the most new coverage
     edges, then the most new features, until --max-files or --max-bytes is reached;
  4. the picked inputs replace the non-hand files in tests/fuzz/seeds/<name>/, named by the
     SHA-1 of their contents as libFuzzer names them.
A fuzzer that crashes stops the refresh of its corpus; the reproducer stays in
BUILDDIR/seed-refresh/<name>/ (artifact prefix) and the script exits non-zero.
Standard library only.
"""
import argparse
import hashlib
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import make_seeds  # noqa: E402


def run(cmd, log):
    with open(log, "w") as f:
        return subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT).returncode


def parse_control_file(path):
    """Returns (files, n_first, {index: (features, edges)}) from a libFuzzer control file."""
    with open(path) as f:
        lines = f.read().splitlines()
    n = int(lines[0])
    n_first = int(lines[1])
    files = lines[2:2 + n]
    feats = {}
    for line in lines[2 + n:]:
        parts = line.split()
        if len(parts) < 2 or parts[0] not in ("FT", "COV"):
            continue
        idx = int(parts[1])
        ft, cov = feats.setdefault(idx, (set(), set()))
        (ft if parts[0] == "FT" else cov).update(int(x) for x in parts[2:])
    return files, n_first, feats


def pick(files, n_first, feats, max_files, max_bytes):
    """Greedy set cover over the inputs after the first n_first (the hand seeds, always kept)."""
    empty = (set(), set())
    have_ft, have_cov = set(), set()
    total = 0
    for i in range(n_first):
        ft, cov = feats.get(i, empty)
        have_ft |= ft
        have_cov |= cov
        total += os.path.getsize(files[i])
    chosen, candidates = [], []
    seen = {hashlib.sha1(open(files[i], "rb").read()).hexdigest() for i in range(n_first)}
    for i in range(n_first, len(files)):
        data = open(files[i], "rb").read()
        digest = hashlib.sha1(data).hexdigest()
        if digest in seen or i not in feats:
            continue
        seen.add(digest)
        candidates.append((i, len(data), digest, data))
    while candidates and n_first + len(chosen) < max_files:
        best, best_key = None, None
        for c in candidates:
            ft, cov = feats[c[0]]
            key = (len(cov - have_cov), len(ft - have_ft), -c[1])
            if best_key is None or key > best_key:
                best, best_key = c, key
        if best_key[0] == 0 and best_key[1] == 0:
            break
        candidates.remove(best)
        if total + best[1] > max_bytes:
            continue
        ft, cov = feats[best[0]]
        have_ft |= ft
        have_cov |= cov
        total += best[1]
        chosen.append(best)
    return chosen, len(have_cov), len(have_ft), total


def refresh(name, args):
    fuzzer = os.path.join(args.builddir, name + "_fuzz")
    seeds = os.path.join(HERE, name)
    work = os.path.join(args.builddir, "seed-refresh", name)
    corpus = os.path.join(work, "corpus")
    out = os.path.join(work, "merge-out")
    ctl = os.path.join(work, "control")
    os.makedirs(corpus, exist_ok=True)
    if args.seconds > 0:
        rc = run([fuzzer, "-max_total_time=%d" % args.seconds, "-timeout=10", "-rss_limit_mb=2048",
                  "-artifact_prefix=" + work + "/", corpus, seeds],
                 os.path.join(work, "fuzz.log"))
        if rc:
            print("%s: fuzzer failed (rc %d), see %s/fuzz.log" % (name, rc, work))
            return False
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    for f in sorted(os.listdir(seeds)):
        if f.startswith("hand-"):
            shutil.copy(os.path.join(seeds, f), out)
    if os.path.exists(ctl):
        os.remove(ctl)
    rc = run([fuzzer, "-set_cover_merge=1", "-merge_control_file=" + ctl, "-timeout=10",
              "-rss_limit_mb=2048", "-artifact_prefix=" + work + "/", out, corpus, seeds],
             os.path.join(work, "merge.log"))
    if rc:
        print("%s: merge failed (rc %d), see %s/merge.log" % (name, rc, work))
        return False
    files, n_first, feats = parse_control_file(ctl)
    chosen, cov, ft, total = pick(files, n_first, feats, args.max_files, args.max_bytes)
    for f in os.listdir(seeds):
        if not f.startswith("hand-"):
            os.remove(os.path.join(seeds, f))
    for _, _, digest, data in chosen:  # contents were read before the old files went
        with open(os.path.join(seeds, digest), "wb") as f:
            f.write(data)
    print("%s: %d hand + %d fuzzed seeds, %d bytes, %d edges, %d features" %
          (name, n_first, len(chosen), total, cov, ft))
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("builddir")
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--max-files", type=int, default=100)
    ap.add_argument("--max-bytes", type=int, default=200000)
    ap.add_argument("names", nargs="*", default=list(make_seeds.GENERATORS))
    args = ap.parse_intermixed_args()
    make_seeds.main([HERE])
    ok = True
    for name in args.names:
        ok = refresh(name, args) and ok
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
