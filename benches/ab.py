"""Two TaskifAI builds on the same files, alternately: did a change make loading slower?
Each run is checked against the generator's truth. Prints a Markdown table of medians.

Usage: python3 benches/ab.py RUNS BEFORE_BIN AFTER_BIN FILE...
(build the other commit with `git worktree add` and its own CARGO_TARGET_DIR)
"""
import os, shutil, statistics, sys, tempfile

from compare import measure, taskifai_result


def main():
    runs, builds, files = int(sys.argv[1]), {"before": sys.argv[2], "after": sys.argv[3]}, sys.argv[4:]
    here = os.path.dirname(os.path.abspath(__file__))
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    lines = ["| file | build | median s | min s | max s | peak MB | vs before |", "|---|---|---:|---:|---:|---:|---:|"]
    for f in files:
        truth = __import__("json").load(open(f.rsplit(".", 1)[0] + ".truth.json"))
        want = {"accepted": truth["accepted"], "rejects": truth["rejects"], "sales_eur": truth["sales_eur"]}
        times = {b: [] for b in builds}
        peak = {b: 0.0 for b in builds}
        for r in range(runs):
            for build, exe in builds.items():
                work = tempfile.mkdtemp(prefix="taskifai-ab-")
                cmd = [exe, "--lake", f"{work}/lake", "--reference", f"{here}/reference", "ingest", "--tenant", "bench", "--vendor", "bench", "--json", f]
                secs, mb, out = measure(cmd, env=env)
                shutil.rmtree(work, ignore_errors=True)
                if taskifai_result(out) != want:
                    sys.exit(f"{build} gave a wrong answer on {f}")
                times[build].append(secs)
                peak[build] = max(peak[build], mb)
                print(f"{os.path.basename(f)} run {r + 1} {build}: {secs:.3f} s", file=sys.stderr)
        base = statistics.median(times["before"])
        for build in builds:
            t = times[build]
            lines.append(f"| {os.path.basename(f)} | {build} | {statistics.median(t):.3f} | {min(t):.3f} | {max(t):.3f} | {peak[build]:.0f} | {statistics.median(t) / base:.3f}x |")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
