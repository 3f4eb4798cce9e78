"""Load speed into a table partitioned by every per-file column (as loads leave it) against one
that `lake optimize` has partitioned by year and month only, whose files store the lineage
columns: does storing them make loads slower? Same build, alternating; every run is checked
against the generator's truth. Each run loads FILE into a copy of a lake holding SEED (another
generated file of the same period, so the load replaces it, as a resent month would), optimized
or not. Prints a Markdown table of medians.

Usage: python3 benches/layout_ab.py RUNS TASKIFAI_BIN SEED FILE...
"""
import os, shutil, statistics, subprocess, sys, tempfile

from compare import measure, taskifai_result


def main():
    runs, exe, seed, files = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
    here = os.path.dirname(os.path.abspath(__file__))
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    base = [exe, "--reference", f"{here}/reference"]
    templates = {}
    for layout in ["per-file", "optimized"]:
        lake = tempfile.mkdtemp(prefix=f"taskifai-layout-{layout}-")
        def run(*a):
            # 3: loaded, with rejected rows (the generated files have some).
            p = subprocess.run(base[:1] + ["--lake", lake] + base[1:] + list(a), env=env, capture_output=True)
            if p.returncode not in (0, 3):
                sys.exit(p.stderr.decode()[-2000:])

        run("ingest", "--tenant", "bench", "--vendor", "bench", "--brief", seed)
        if layout == "optimized":
            run("lake", "optimize", "--tenant", "bench")
        templates[layout] = lake
    lines = ["| file | table | median s | min s | max s | peak MB | vs per-file |", "|---|---|---:|---:|---:|---:|---:|"]
    for f in files:
        truth = __import__("json").load(open(f.rsplit(".", 1)[0] + ".truth.json"))
        want = {"accepted": truth["accepted"], "rejects": truth["rejects"], "sales_eur": truth["sales_eur"]}
        times = {layout: [] for layout in templates}
        peak = {layout: 0.0 for layout in templates}
        for r in range(runs):
            for layout, template in templates.items():
                work = tempfile.mkdtemp(prefix="taskifai-layout-run-")
                shutil.copytree(template, f"{work}/lake")
                cmd = base[:1] + ["--lake", f"{work}/lake"] + base[1:] + ["ingest", "--tenant", "bench", "--vendor", "bench", "--json", f]
                secs, mb, out = measure(cmd, env=env)
                shutil.rmtree(work, ignore_errors=True)
                if taskifai_result(out) != want:
                    sys.exit(f"{layout} gave a wrong answer on {f}")
                times[layout].append(secs)
                peak[layout] = max(peak[layout], mb)
                print(f"{os.path.basename(f)} run {r + 1} {layout}: {secs:.3f} s", file=sys.stderr)
        ref = statistics.median(times["per-file"])
        for layout, t in times.items():
            lines.append(f"| {os.path.basename(f)} | {layout} | {statistics.median(t):.3f} | {min(t):.3f} | {max(t):.3f} | {peak[layout]:.0f} | {statistics.median(t) / ref:.3f}x |")
    for lake in templates.values():
        shutil.rmtree(lake, ignore_errors=True)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
