"""Runs TaskifAI and each peer alternately on the same files, checks every output against the
truth, and writes a table of median seconds, rows/s, MB/s, peak memory and ratios to
benches/RESULTS.md. Called by benches/run.sh."""
import decimal, json, os, platform, shutil, statistics, subprocess, sys, tempfile, time

def measure(cmd, env=None):
    """Wall seconds, peak RSS in MB, and stdout of one run."""
    start = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out = b"".join(iter(lambda: p.stdout.read(65536), b""))
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    err = p.stderr.read()
    if p.returncode not in (0, 3):
        sys.exit(f"{cmd[0]} failed ({p.returncode}): {err.decode()[-2000:]}")
    return time.perf_counter() - start, usage.ru_maxrss / 1024, out.decode()

def taskifai_result(out):
    # The summary gives EUR as a JSON number with up to six decimals: read it exactly.
    d = json.loads(out, parse_float=decimal.Decimal)
    rejects = {}
    for i in d["issues"]:
        if i["severity"] == "error":
            rejects[i["rule"]] = rejects.get(i["rule"], 0) + 1
    eur = decimal.Decimal(d["summary"]["sales_eur"])
    return {"accepted": d["summary"]["rows_accepted"], "rejects": dict(sorted(rejects.items())), "sales_eur": f"{eur:.6f}"}

def main():
    taskifai, python, polars_rs, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    files = sys.argv[5:]
    here = os.path.dirname(os.path.abspath(__file__))
    rows_out = []
    for f in files:
        truth = json.load(open(f.rsplit(".", 1)[0] + ".truth.json"))
        want = {"accepted": truth["accepted"], "rejects": truth["rejects"], "sales_eur": truth["sales_eur"]}
        size_mb = os.path.getsize(f) / 1e6
        peer = lambda script: [python, f"{here}/peers/{script}"]
        tools = {"taskifai": None, "polars": peer("polars_peer.py"), "polars-rs": [polars_rs], "duckdb": peer("duckdb_peer.py"), "pandas": peer("pandas_peer.py")}
        if f.endswith(".xlsx"):
            # DuckDB reads XLSX only through an extension downloaded at run time; left out.
            del tools["duckdb"]
        times = {t: [] for t in tools}
        mem = {t: 0.0 for t in tools}
        for r in range(runs):
            for tool, peer_cmd in tools.items():
                work = tempfile.mkdtemp(prefix="taskifai-bench-")
                if peer_cmd is None:
                    cmd = [taskifai, "--lake", f"{work}/lake", "--reference", f"{here}/reference", "ingest", "--tenant", "bench", "--vendor", "bench", "--json", f]
                    # Lake only: the database load is measured by benches/load.rs.
                    secs, peak, out = measure(cmd, env={k: v for k, v in os.environ.items() if k != "DATABASE_URL"})
                    got = taskifai_result(out)
                else:
                    secs, peak, out = measure(peer_cmd + [f, work])
                    got = json.loads(out.strip().splitlines()[-1])
                shutil.rmtree(work, ignore_errors=True)
                if got != want:
                    sys.exit(f"{tool} gave a wrong answer on {f}: {got} != {want}")
                times[tool].append(secs)
                mem[tool] = max(mem[tool], peak)
                print(f"{os.path.basename(f)} run {r + 1} {tool}: {secs:.2f} s, {peak:.0f} MB", file=sys.stderr)
        base = statistics.median(times["taskifai"])
        for tool in tools:
            m = statistics.median(times[tool])
            rows_out.append((os.path.basename(f), tool, m, truth["rows"] / m, size_mb / m, mem[tool], m / base))
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
    lines = [
        "# Benchmark results", "",
        f"Machine: {cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}; {runs} alternating runs per tool, median shown.",
        "Every run's accepted count, rejects by reason and exact EUR total were checked against the generator's truth.", "",
        "| file | tool | median s | rows/s | MB/s | peak MB | time vs taskifai |", "|---|---|---:|---:|---:|---:|---:|",
    ]
    lines += [f"| {f} | {t} | {m:.2f} | {rps:,.0f} | {mbs:.1f} | {peak:.0f} | {ratio:.2f}x |" for f, t, m, rps, mbs, peak, ratio in rows_out]
    lines += ["", "Where the time goes and what to do about it: benches/README.md."]
    text = "\n".join(lines) + "\n"
    print(text)
    # Sections written by hand below the table (from the first "## " heading on) are kept.
    path = os.path.join(here, "RESULTS.md")
    old = open(path).read() if os.path.exists(path) else ""
    kept = old[old.find("\n## "):] if "\n## " in old else ""
    with open(path, "w") as fh:
        fh.write(text + kept)

if __name__ == "__main__":
    main()
