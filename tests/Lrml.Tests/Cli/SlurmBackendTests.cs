using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lrml.Experiments;
using Lrml.Reproduction.Backends;
using Lrml.Reproduction.Sweeps;

using Lrml.Models;

namespace Lrml.Tests.Cli;

/// <summary>
/// `lrml sweep --backend slurm` against a real Slurm: a small sweep (synthetic data, LRML's fused engine, 3 trials, 2 seeds) runs as job
/// arrays; one array task is killed on purpose (scancel) after its first checkpoint, and the kit resubmits that run alone,
/// which resumes from the checkpoint. Every metric of every trial and final run must equal the same sweep run locally.
/// <para>The cluster is the one <c>build/slurm-local-cluster.sh start</c> starts (build/test.sh does it when CI=true or
/// LRML_SLURM=1, exports SLURM_CONF, and stops the daemons by their pids at the end). Without sbatch the test skips with a
/// message — except in CI (CI=true), where it fails: CI must run it.</para>
/// </summary>
[Collection("Torch models")]
public class SlurmBackendTests
{
    private static readonly string Cli = Path.Combine(AppContext.BaseDirectory, "Lrml.Cli.dll");

    private static void RequireCluster()
    {
        bool ci = string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);
        string? problem = null;
        if (!SlurmCommands.Installed())
            problem = "sbatch is not installed (apt-get install slurm-wlm munge; then LRML_SLURM=1 build/test.sh starts a one-machine cluster)";
        else
        {
            try { new SlurmCommands().Queue(); }
            catch (IOException e) { problem = $"sbatch is installed but no cluster answers ({e.Message}); start one with build/slurm-local-cluster.sh start and export SLURM_CONF"; }
        }
        if (problem is null) return;
        if (ci) Assert.Fail("CI must run the Slurm test, but " + problem);
        Assert.Skip(problem);
    }

    private static string[] SweepArgs(string results, params string[] extra) =>
    [
        Cli, "--data-dir", Path.Combine(results, "no-data"), "--results", results, "--threads", "1",
        "sweep", "--dataset", "synthetic", "--model", "lrml", "--space", "dim=16,32,64", "--trials", "3", "--seeds", "2",
        "--epochs", "20", "--patience", "0", "--batch-size", "256", .. extra,
    ];

    private static Process Start(string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["NO_COLOR"] = "1";
        return Process.Start(psi)!;
    }

    private static (int Code, string Output) Finish(Process p, Task<string> stdout, Task<string> stderr, TimeSpan limit)
    {
        if (!p.WaitForExit(limit))
        {
            p.Kill(true);
            throw new TimeoutException($"lrml did not finish in {limit.TotalMinutes} minutes:\n{stdout.Result}{stderr.Result}");
        }
        p.WaitForExit();
        return (p.ExitCode, stdout.Result + stderr.Result);
    }

    private static (int Code, string Output) RunToEnd(string[] args, TimeSpan limit)
    {
        using var p = Start(args);
        return Finish(p, p.StandardOutput.ReadToEndAsync(), p.StandardError.ReadToEndAsync(), limit);
    }

    private static void Scancel(string task)
    {
        var psi = new ProcessStartInfo("scancel") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(task);
        using var p = Process.Start(psi)!;
        string err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"scancel {task} failed: {err}");
    }

    private static List<TrialRecord> Records(string path) =>
        JsonSerializer.Deserialize<List<TrialRecord>>(File.ReadAllText(path), ConfigBinder.Json)!;

    [Fact]
    public void ASweepThroughSlurmWithAKilledTaskRecoversAndEqualsTheLocalSweep()
    {
        RequireCluster();
        Assert.True(File.Exists(Cli), $"CLI not found next to the tests: {Cli}");
        // under the build output (the repository), not /tmp: on a real cluster that is usually a shared home; the cluster of
        // this test is this machine, so the shared-file-system check is skipped for clones that live under /tmp
        string root = Path.Combine(AppContext.BaseDirectory, "slurm-test-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(root);
        var log = new StringBuilder();
        try
        {
            // 1. the reference: the same sweep, here
            string localResults = Path.Combine(root, "local");
            var (code, output) = RunToEnd(SweepArgs(localResults), TimeSpan.FromMinutes(4));
            Assert.True(code == 0, output);
            string localDir = Path.Combine(localResults, "sweeps", "synthetic", "leave-last-out", "lrml");

            // 2. submit through Slurm and return at once
            string slurmResults = Path.Combine(root, "slurm");
            string slurmDir = Path.Combine(slurmResults, "sweeps", "synthetic", "leave-last-out", "lrml");
            string[] slurm = ["--backend", "slurm", "--poll-seconds", "1", "--skip-shared-fs-check", "--mem", "1G"];
            (code, output) = RunToEnd(SweepArgs(slurmResults, [.. slurm, "--no-wait"]), TimeSpan.FromMinutes(2));
            log.AppendLine("$ lrml sweep … --backend slurm --no-wait").AppendLine(output);
            Assert.True(code == 0, output);
            Assert.Contains("Submitted 3 run(s) (trials of lrml) as Slurm job ", output);
            Assert.Contains("3 of 3 trials of the lrml sweep", output);
            var first = JsonNode.Parse(File.ReadAllText(Path.Combine(slurmDir, "slurm", SlurmBackend.SubmissionsFile)))!.AsArray();
            string job = (string)Assert.Single(first)!["job_id"]!;

            // 3. the same command without --no-wait finds the queued job and waits for it. Once it says so, the first trial
            //    task that has written a checkpoint but no result (mid-run) is killed with scancel.
            var said = new StringBuilder();
            bool waiting = false;
            var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in SweepArgs(slurmResults, slurm)) psi.ArgumentList.Add(a);
            psi.Environment["NO_COLOR"] = "1";
            using var p = new Process { StartInfo = psi };
            void Collect(object? _, DataReceivedEventArgs e)
            {
                if (e.Data is null) return;
                lock (said)
                {
                    said.AppendLine(e.Data);
                    if (e.Data.Contains("are already queued in Slurm job", StringComparison.Ordinal)) waiting = true;
                }
            }
            p.OutputDataReceived += Collect;
            p.ErrorDataReceived += Collect;
            p.Start();
            p.BeginOutputReadLine();
            p.BeginErrorReadLine();
            string trialsDir = Path.Combine(slurmDir, "trials");
            var clock = Stopwatch.StartNew();
            string? killedDir = null;
            int killed = -1;
            while (clock.Elapsed < TimeSpan.FromMinutes(3) && !p.HasExited && killedDir is null)
            {
                bool ready;
                lock (said) ready = waiting;
                for (int t = 0; ready && t < 3 && killedDir is null; t++)
                    foreach (var d in Directory.Exists(trialsDir) ? Directory.GetDirectories(trialsDir, $"t{t:000}-*") : [])
                        if (File.Exists(Path.Combine(d, Experiment.CheckpointFile)) && !File.Exists(Path.Combine(d, "result.json")))
                        {
                            Scancel($"{job}_{t}");
                            (killedDir, killed) = (d, t);
                            log.AppendLine(CultureInfo.InvariantCulture, $"$ scancel {job}_{t}   # after {clock.Elapsed.TotalSeconds:F1} s: {Path.GetFileName(d)} has a checkpoint and no result");
                            break;
                        }
                Thread.Sleep(50);
            }
            Assert.True(killedDir is not null, "no trial had a checkpoint without a result while the sweep waited: nothing was killed\n" + said);
            if (!p.WaitForExit(TimeSpan.FromMinutes(5))) { p.Kill(true); Assert.Fail("lrml sweep --backend slurm did not finish in 5 minutes\n" + said); }
            p.WaitForExit();
            code = p.ExitCode;
            lock (said) output = said.ToString();
            log.AppendLine("$ lrml sweep … --backend slurm").AppendLine(output);
            TestContext.Current.TestOutputHelper?.WriteLine(log.ToString());
            Assert.True(code == 0, output);
            Assert.Contains($"3 run(s) (trials of lrml) are already queued in Slurm job(s) {job}: waiting for them instead of submitting them again.", output);
            Assert.Contains($"Task {job}_{killed} ({Path.GetFileName(killedDir)}) ended without a result: Slurm state CANCELLED", output);
            Assert.Matches(@"Slurm \(trials of lrml\): [0-3] of 3 run\(s\) ended, [0-3] running, [0-3] pending \[\d+ s; jobs ", output);
            Assert.Contains("Slurm (trials of lrml): done after ", output);
            var m = System.Text.RegularExpressions.Regex.Match(output, $@"Resubmitted as task (\d+)_{killed} \(attempt 2\)");
            Assert.True(m.Success, output);
            string resubmitted = m.Groups[1].Value;
            // the resubmitted task resumed the run from its checkpoint
            string taskLog = Directory.GetFiles(Path.Combine(slurmDir, "slurm"), $"{resubmitted}_{killed}.out", SearchOption.AllDirectories).Single();
            string taskOutput = File.ReadAllText(taskLog);
            Assert.Matches(@"Resuming from epoch \d+, step \d+", taskOutput);
            log.AppendLine($"$ grep Resuming {taskLog}").AppendLine(taskOutput.Split('\n').First(l => l.Contains("Resuming", StringComparison.Ordinal)));

            // 4. identical numbers: every trial and final run, metric by metric
            var table = new StringBuilder("| run | seed | metric | local | slurm |\n|---|---|---|---|---|\n");
            foreach (var file in new[] { "trials.json", "finals.json" })
            {
                var local = Records(Path.Combine(localDir, file)).OrderBy(r => r.Key, StringComparer.Ordinal).ThenBy(r => r.Seed).ToList();
                var cluster = Records(Path.Combine(slurmDir, file)).OrderBy(r => r.Key, StringComparer.Ordinal).ThenBy(r => r.Seed).ToList();
                Assert.Equal(local.Select(r => (r.Key, r.Seed, r.Status)), cluster.Select(r => (r.Key, r.Seed, r.Status)));
                Assert.NotEmpty(local);
                for (int k = 0; k < local.Count; k++)
                {
                    Assert.Equal(local[k].Validation, cluster[k].Validation);
                    Assert.Equal(local[k].Test, cluster[k].Test);
                    Assert.Equal((local[k].Epochs, local[k].BestEpoch), (cluster[k].Epochs, cluster[k].BestEpoch));
                    foreach (var metric in new[] { "val/nDCG@10", "nDCG@10", "HR@10", "full/nDCG@10" })
                    {
                        double a = metric.StartsWith("val/", StringComparison.Ordinal) ? local[k].Validation[metric[4..]] : local[k].Test[metric];
                        double b = metric.StartsWith("val/", StringComparison.Ordinal) ? cluster[k].Validation[metric[4..]] : cluster[k].Test[metric];
                        table.Append(CultureInfo.InvariantCulture, $"| {(file == "trials.json" ? "trial" : "final")} {local[k].Key.Split(';')[0]} | {local[k].Seed} | {metric} | {a:R} | {b:R} |\n");
                    }
                }
            }
            var localChosen = JsonNode.Parse(File.ReadAllText(Path.Combine(localDir, "chosen.json")))!;
            var slurmChosen = JsonNode.Parse(File.ReadAllText(Path.Combine(slurmDir, "chosen.json")))!;
            Assert.Equal((string?)localChosen["chosen_key"], (string?)slurmChosen["chosen_key"]);
            Assert.Equal(localChosen["mean"]!.ToJsonString(), slurmChosen["mean"]!.ToJsonString());
            Assert.Equal(localChosen["std"]!.ToJsonString(), slurmChosen["std"]!.ToJsonString());
            TestContext.Current.TestOutputHelper?.WriteLine(table.ToString());
            string? notes = Environment.GetEnvironmentVariable("LRML_SLURM_TEST_LOG");
            if (notes is not null) File.WriteAllText(notes, log + "\n" + table);
        }
        finally
        {
            // a failed run of the test leaves no task behind: cancel every job it submitted, then remove its folder
            foreach (var file in Directory.Exists(root) ? Directory.GetFiles(root, SlurmBackend.SubmissionsFile, SearchOption.AllDirectories) : [])
                foreach (var s in JsonNode.Parse(File.ReadAllText(file))!.AsArray())
                    try { Scancel((string)s!["job_id"]!); } catch (Exception e) when (e is Xunit.Sdk.XunitException or IOException or System.ComponentModel.Win32Exception) { }
            try { Directory.Delete(root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }
}
