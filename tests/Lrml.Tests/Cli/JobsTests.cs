using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Lrml.Data;
using Lrml.Experiments;
using Lrml.Tests.Robustness;
using Lrml.Training;

namespace Lrml.Tests.Cli;

/// <summary>
/// `--jobs N` on the local backend: N runs at a time, each in its own `lrml train --spec` child process, against the serial
/// order in this process (`--jobs 1`). A run's threads are part of its identity, so `--jobs 2 --threads 2` (one thread per
/// run) is compared with `--jobs 1 --threads 1`: same run identities (spec.json), the same metrics to the last bit, the same
/// tables (byte for byte where they hold no timings).
/// </summary>
public class JobsTests
{
    private static string MainTable(string results) => Path.Combine(results, "reproduce", "main-table", "quick");

    private static string[] MainTableArgs(string results, string threads, params string[] extra) =>
        ["--data-dir", Path.Combine(results, "no-data"), "--results", results, "--threads", threads,
         "reproduce", "main-table", "--datasets", "synthetic", "--seeds", "2", .. extra, .. extra.Contains("--models") ? [] : new[] { "--models", "pop,lrml" }];

    /// <summary>The pids of the running children of <paramref name="pid"/> with their command lines (from /proc).</summary>
    private static List<(int Pid, string Command)> Children(int pid)
    {
        var list = new List<(int, string)>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out int p)) continue;
            try
            {
                string stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');           // state, ppid, …
                if (fields[0] == "Z" || int.Parse(fields[1], CultureInfo.InvariantCulture) != pid) continue;
                list.Add((p, File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ')));
            }
            catch (IOException) { }                                                    // gone meanwhile
        }
        return list;
    }

    private static bool Alive(int pid)
    {
        try { return File.ReadAllText($"/proc/{pid}/stat") is var s && s[(s.LastIndexOf(')') + 2)..][0] != 'Z'; }
        catch (IOException) { return false; }
    }

    /// <summary>The metrics of every run under <paramref name="runs"/> and the identity key in its spec.json.</summary>
    private static SortedDictionary<string, string> RunsOf(string runs) =>
        new(Directory.GetDirectories(runs, "*", SearchOption.AllDirectories).Where(d => File.Exists(Path.Combine(d, "result.json")))
            .ToDictionary(d => Path.GetRelativePath(runs, d), d =>
                (string)JsonNode.Parse(File.ReadAllText(Path.Combine(d, "spec.json")))!["key"]! + " " +
                JsonNode.Parse(File.ReadAllText(Path.Combine(d, "result.json")))!["metrics"]!.ToJsonString()), StringComparer.Ordinal);

    /// <summary>A CSV without the named columns (timings).</summary>
    private static string[] WithoutColumns(string csv, params string[] drop)
    {
        var lines = File.ReadAllLines(csv);
        var header = lines[0].Split(',');
        var keep = Enumerable.Range(0, header.Length).Where(i => !drop.Contains(header[i])).ToArray();
        Assert.Equal(header.Length - drop.Length, keep.Length);
        return lines.Select(l => string.Join(",", keep.Select(i => l.Split(',')[i]))).ToArray();
    }

    /// <summary>The serial reference, then `--jobs 2` with one child killed mid-run (SIGKILL): that run is reported with its
    /// log, the others finish, the exit code is 1; the same command again trains only the killed run and reuses the others.
    /// The end result equals the serial one: identities, metrics, tables.</summary>
    [Fact]
    public void JobsTwoWithAKilledChildReportsItGoesOnAndOnRerunEqualsTheSerialOrder()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "reads child processes from /proc");
        string root = Directory.CreateTempSubdirectory("lrml-jobs").FullName;
        string serial = Path.Combine(root, "serial"), parallel = Path.Combine(root, "parallel");
        using (var reference = CliProcess.StartRaw(MainTableArgs(serial, "1")))
            Assert.True(reference.Wait() == 0, reference.Output);

        string victim = Path.Combine(MainTable(parallel), "runs", "synthetic", "lrml-seed1");
        using (var run = CliProcess.StartRaw(MainTableArgs(parallel, "2", "--jobs", "2")))
        {
            int killed = 0;
            Assert.True(run.WaitUntil(() =>
            {
                var child = Children(run.Id).FirstOrDefault(c => c.Command.Contains("/jobs/lrml-seed1-", StringComparison.Ordinal));
                if (child.Pid == 0) return false;
                Process.GetProcessById(child.Pid).Kill();                              // SIGKILL: no cleanup of any kind
                killed = child.Pid;
                return true;
            }, seconds: 60), "no child process trained lrml-seed1:\n" + run.Output);
            Assert.Equal(1, run.Wait());
            Assert.False(Alive(killed));
            string log = Path.Combine(victim, "run.log");
            Assert.Contains($"main table (quick): run 2 of 3 · synthetic · lrml · seed 1 · FAILED: killed by signal 9 after ", run.Stdout);
            Assert.Contains($"no result; log {log}", run.Stdout);
            Assert.Contains("main table (quick): run 1 of 3 · synthetic · pop · seed 1 · finished in ", run.Stdout);
            Assert.Contains("main table (quick): run 3 of 3 · synthetic · lrml · seed 2 · finished in ", run.Stdout);
            Assert.Matches(@"\n  missing: lrml on synthetic[^\n]*, seed 1[,:][^\n]*: killed by signal 9 after [^\n]*" + System.Text.RegularExpressions.Regex.Escape(log), run.Stdout);
            Assert.Contains("error: 1 run(s) are missing from the tables", run.Stderr);
            Assert.StartsWith("lrml: ", File.ReadLines(log).First());               // the child's command line, then its output
            Assert.False(File.Exists(Path.Combine(victim, "result.json")));
            Assert.True(File.Exists(Path.Combine(MainTable(parallel), "runs", "synthetic", "lrml-seed2", "result.json")));
        }

        using (var rerun = CliProcess.StartRaw(MainTableArgs(parallel, "2", "--jobs", "2")))
        {
            Assert.True(rerun.Wait() == 0, rerun.Output);
            Assert.Contains("main table (quick): 1 run(s) to train, 1 at a time", rerun.Stdout);
            Assert.Contains("main table (quick): run 1 of 3 · synthetic · pop · seed 1 · ended earlier (finished): reused", rerun.Stdout);
            Assert.Contains("main table (quick): run 2 of 3 · synthetic · lrml · seed 1 · finished in ", rerun.Stdout);
            Assert.DoesNotContain("  epoch   1  loss", rerun.Stdout);                          // the child's epochs are in its log only
            Assert.Contains("  epoch  15 ", File.ReadAllText(Path.Combine(victim, "run.log")));
        }

        // the same runs (identity keys), the same metrics, the same tables
        var expected = RunsOf(Path.Combine(MainTable(serial), "runs"));
        Assert.Equal(3, expected.Count);
        Assert.Equal(expected, RunsOf(Path.Combine(MainTable(parallel), "runs")));
        foreach (var file in new[] { "headline.csv", "significance.csv", "verdict.csv", "findings.md" })
            Assert.True(File.ReadAllBytes(Path.Combine(MainTable(serial), file)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(MainTable(parallel), file))), file);
        Assert.Equal(WithoutColumns(Path.Combine(MainTable(serial), "main-table.csv"), "s/epoch"),
                     WithoutColumns(Path.Combine(MainTable(parallel), "main-table.csv"), "s/epoch"));
    }

    /// <summary>A sweep of a TorchSharp-engine model (BPR-MF, --engine torch): with the same threads per run, `--jobs 2` chooses
    /// the same configuration from the same trials, records them in the same order, and its final runs have the same numbers.</summary>
    [Fact]
    public void ASweepOfATorchEngineModelWithJobsTwoEqualsTheSerialSweep()
    {
        string root = Directory.CreateTempSubdirectory("lrml-jobs-sweep").FullName;
        string[] Args(string results, string threads, params string[] extra) =>
            ["--data-dir", Path.Combine(results, "no-data"), "--results", results, "--threads", threads, "sweep", "--dataset", "synthetic",
             "--model", "bpr", "--engine", "torch", "--space", "dim=8,16,32", "--trials", "3", "--seeds", "2", "--epochs", "2", "--patience", "0",
             "--batch-size", "512", "--no-full-ranking", .. extra];
        string serial = Path.Combine(root, "serial"), parallel = Path.Combine(root, "parallel");
        using (var s = CliProcess.StartRaw(Args(serial, "1"))) Assert.True(s.Wait() == 0, s.Output);
        using (var p = CliProcess.StartRaw(Args(parallel, "2", "-j", "2")))
        {
            Assert.True(p.Wait() == 0, p.Output);
            Assert.Contains("trials of bpr: 3 run(s) to train, 2 at a time, each in its own process (lrml train --spec, 1 thread(s) each)", p.Stdout);
            Assert.Equal(3, System.Text.RegularExpressions.Regex.Matches(p.Stdout, @"Trial [123]/3: dim=(8|16|32) · seed 1 · finished in ").Count);
        }
        string Sweep(string results) => Path.Combine(results, "sweeps", "synthetic", "leave-last-out", "bpr");
        static string Records(string path)                                              // without the timings and the folder paths
        {
            var n = JsonNode.Parse(File.ReadAllText(path))!;
            void Strip(JsonNode? x)
            {
                if (x is JsonArray a) foreach (var e in a) Strip(e);
                if (x is not JsonObject o) return;
                o.Remove("seconds"); o.Remove("run_dir");
                foreach (var (_, v) in o) Strip(v);
            }
            Strip(n);
            return n.ToJsonString();
        }
        Assert.Equal(Records(Path.Combine(Sweep(serial), "trials.json")), Records(Path.Combine(Sweep(parallel), "trials.json")));
        Assert.Equal(Records(Path.Combine(Sweep(serial), "finals.json")), Records(Path.Combine(Sweep(parallel), "finals.json")));
        var expected = RunsOf(Sweep(serial));
        Assert.Equal(4, expected.Count);                                               // 3 trials + 1 more seed of the chosen one
        Assert.Equal(expected, RunsOf(Sweep(parallel)));
        Assert.Equal(Records(Path.Combine(Sweep(serial), "chosen.json")), Records(Path.Combine(Sweep(parallel), "chosen.json")));
    }

    /// <summary>SIGINT (what Ctrl+C sends) or SIGTERM to `lrml … --jobs 2` kills its running children before it ends; a parent killed
    /// with SIGKILL (no handler runs) leaves no orphan either: each child ends when its standard input closes.</summary>
    [Theory]
    [InlineData("INT", 2)]
    [InlineData("TERM", 15)]
    [InlineData("KILL", 9)]
    public void AnInterruptOrTheParentsDeathEndsTheChildren(string signal, int number)
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "reads child processes from /proc");
        // a shell without job control starts background commands with SIGINT ignored, and the children of this test inherit that
        string ignored = File.ReadLines("/proc/self/status").First(l => l.StartsWith("SigIgn:", StringComparison.Ordinal))[7..].Trim();
        Assert.SkipWhen(signal == "INT" && (ulong.Parse(ignored, NumberStyles.HexNumber, CultureInfo.InvariantCulture) & 2) != 0,
            "SIGINT is ignored in this test run (started in the background by a shell), so the CLI would ignore it too");
        string root = Directory.CreateTempSubdirectory("lrml-jobs-int").FullName;
        using var run = CliProcess.StartRaw(MainTableArgs(root, "2", "--jobs", "2", "--models", "lrml"));
        List<(int Pid, string Command)> children = [];
        Assert.True(run.WaitUntil(() => (children = Children(run.Id).Where(c => c.Command.Contains(" train --spec ", StringComparison.Ordinal)).ToList()).Count == 2,
            seconds: 60), "two children never ran at once:\n" + run.Output);
        using (var kill = Process.Start("kill", ["-" + signal, run.Id.ToString(CultureInfo.InvariantCulture)])) kill.WaitForExit();
        int code = run.Wait();
        Assert.True(code == 128 + number, $"exit code {code}:\n{run.Output}");
        if (signal != "KILL")
            Assert.Contains($"main table (quick): SIG{signal}: killed 2 running child process(es); run the same command again to resume", run.Stderr);
        foreach (var (pid, _) in children)
        {
            var sw = Stopwatch.StartNew();
            while (Alive(pid) && sw.Elapsed.TotalSeconds < 5) Thread.Sleep(20);             // a run alone takes longer
            Assert.False(Alive(pid), $"child {pid} still runs after the parent got SIG{signal}");
        }
    }

    /// <summary>Bad --jobs values are usage errors (exit code 2) that say what is wrong, before anything runs.</summary>
    [Theory]
    [InlineData("0", "local", "error: --jobs must be ≥ 1 (got 0).")]
    [InlineData("-2", "local", "error: --jobs must be ≥ 1 (got -2).")]
    [InlineData("3", "local", "error: --jobs 3 needs at least 3 threads, one per job (--threads is 2): lower --jobs or raise --threads.")]
    [InlineData("2", "slurm", "error: --jobs applies to --backend local: on a cluster the array tasks already run in parallel (--array-throttle limits how many at once).")]
    [InlineData("2", "collect", "error: --collect trains nothing: drop --jobs.")]
    public void BadJobsValuesAreUsageErrors(string jobs, string backend, string message)
    {
        string root = Directory.CreateTempSubdirectory("lrml-jobs-bad").FullName;
        string[] where = backend switch { "slurm" => ["--backend", "slurm", "--dry-run"], "collect" => ["--collect"], _ => [] };
        using var run = CliProcess.StartRaw(MainTableArgs(root, "2", ["--jobs", jobs, .. where]));
        Assert.Equal(2, run.Wait());
        Assert.Equal(message, CliRunner.SingleErrorLine(run.Stdout, run.Stderr));
        Assert.False(Directory.Exists(Path.Combine(MainTable(root), "runs")));
    }
}

/// <summary>A run directory may hold the log a --jobs parent writes into it before the run starts (<c>run.log</c>): a fresh
/// run trains there, and a staged --overwrite rerun keeps the log, still the file the parent writes to.</summary>
[Collection("Torch models")]
public class RunLogTests
{
    [Fact]
    public void ARunDirectoryHoldingOnlyItsLogTrainsThereAndARerunKeepsTheLog()
    {
        string root = Directory.CreateTempSubdirectory("lrml-runlog").FullName;
        string dir = Path.Combine(root, "run");
        Directory.CreateDirectory(dir);
        string log = Path.Combine(dir, "run.log");
        using var writer = new StreamWriter(new FileStream(log, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete)) { AutoFlush = true };
        writer.WriteLine("before");
        var ctx = new ExperimentContext { Data = new DataDirectory(Path.Combine(root, "no-data")), ResultsRoot = root };
        RunSpec Spec(int dim) => new()
        {
            Dataset = "synthetic", Model = "bpr", Settings = [new("dim", dim.ToString(CultureInfo.InvariantCulture))],
            Train = new TrainConfig { Epochs = 1, Threads = 1, BatchSize = 512 }, FullRanking = false,
        };
        Experiment.Run(Spec(8), ctx, dir);                                            // not refused as "not empty", log kept
        Assert.True(File.Exists(Path.Combine(dir, "result.json")));
        Experiment.Run(Spec(16), new ExperimentContext { Data = ctx.Data, ResultsRoot = root, Overwrite = true }, dir);                 // staged beside, then swapped in
        Assert.DoesNotContain(Directory.GetDirectories(root), d => Path.GetFileName(d).StartsWith(".run.", StringComparison.Ordinal));
        writer.WriteLine("after");
        Assert.Equal(["before", "after"], File.ReadAllLines(log));
        Assert.Contains("\"dim\": 16", File.ReadAllText(Path.Combine(dir, "config.json")));
    }
}
