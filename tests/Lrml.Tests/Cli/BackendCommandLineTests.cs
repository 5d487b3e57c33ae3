using System.Diagnostics;

namespace Lrml.Tests.Cli;

/// <summary>The --backend options of `lrml sweep` and `lrml reproduce` as a user meets them, without a cluster: the dry run,
/// collecting a table whose runs are missing, and the refusals.</summary>
public class BackendCommandLineTests
{
    private static readonly string Cli = Path.Combine(AppContext.BaseDirectory, "Lrml.Cli.dll");

    private static (int Code, string Stdout, string Stderr) Run(string results, string? path, params string[] args)
    {
        Assert.True(File.Exists(Cli), $"CLI not found next to the tests: {Cli}");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { Cli, "--data-dir", Path.Combine(results, "no-data"), "--results", results, "--threads", "1" }.Concat(args))
            psi.ArgumentList.Add(a);
        psi.Environment["NO_COLOR"] = "1";
        if (path is not null) psi.Environment["PATH"] = path;
        using var p = Process.Start(psi)!;
        var o = p.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var e = p.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        if (!p.WaitForExit(180_000)) { p.Kill(true); throw new TimeoutException("lrml did not finish in 3 minutes"); }
        p.WaitForExit();
        return (p.ExitCode, o.Result, e.Result);
    }

    /// <summary>`--dry-run` prints the job script and the runs, and the sentence about the final runs' second array; it works
    /// where Slurm is not installed (no sbatch on the PATH) and writes no job folder.</summary>
    [Fact]
    public void ASweepDryRunPrintsTheScriptAndTheRunsWithoutSlurm()
    {
        string root = Directory.CreateTempSubdirectory("lrml-dryrun").FullName;
        var (code, stdout, stderr) = Run(root, "/nonexistent", "sweep", "--dataset", "synthetic", "--model", "lrml", "--space", "dim=16,32",
            "--trials", "2", "--seeds", "2", "--epochs", "3", "--backend", "slurm", "--dry-run", "--skip-shared-fs-check", "--partition", "short", "--account", "lab",
            "--time", "30", "--mem", "2G", "--gres", "gpu:1", "--sbatch=--qos=debug", "--array-throttle", "1");
        Assert.True(code == 0, stdout + stderr);
        string sweepDir = Path.Combine(root, "sweeps", "synthetic", "leave-last-out", "lrml");
        Assert.Contains($"Dry run: no job file is written and nothing is submitted. lrml would write 2 run spec(s) to {Path.Combine(sweepDir, "slurm", "job-001", "specs")}/", stdout);
        foreach (var line in new[] { "#SBATCH --array=0-1%1", "#SBATCH --time=0-00:30:00", "#SBATCH --mem=2048M", "#SBATCH --cpus-per-task=1",
                     "#SBATCH --partition=short", "#SBATCH --account=lab", "#SBATCH --gres=gpu:1", "#SBATCH --qos=debug" })
            Assert.Contains(line + "\n", stdout);
        // the grid's two points in the sweep's seeded order, trial i in t00i
        var lines = stdout.Split('\n');
        foreach (var dim in new[] { "dim=16", "dim=32" })
            Assert.Contains(lines, l => System.Text.RegularExpressions.Regex.IsMatch(l,
                $@"^   ([01])  lrml on synthetic, seed 1, {dim}  →  {System.Text.RegularExpressions.Regex.Escape(Path.Combine(sweepDir, "trials"))}/t00\1-"));
        Assert.Contains("Dry run: once every trial has ended and the configuration is chosen on validation, the sweep submits the chosen " +
                        "configuration's other final seeds as a second job array.", stdout.ReplaceLineEndings(" ").Replace("  ", " ", StringComparison.Ordinal));
        Assert.False(Directory.Exists(Path.Combine(sweepDir, "slurm")));
        Assert.False(Directory.Exists(Path.Combine(sweepDir, "trials")));
    }

    /// <summary>`reproduce main-table --collect` trains nothing: the table keeps every planned cell, lists the missing runs in its
    /// notes, and the command says how many are missing.</summary>
    [Fact]
    public void CollectingAMainTableBeforeItsRunsExistReportsThemMissing()
    {
        string root = Directory.CreateTempSubdirectory("lrml-collect").FullName;
        var (code, stdout, stderr) = Run(root, null, "reproduce", "main-table", "--datasets", "synthetic", "--models", "pop", "--collect");
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("1 run(s) are missing from the tables (listed in their notes); the means use the runs that finished.", stdout);
        Assert.Contains("  missing: pop on synthetic, seed 1: not finished (collecting only: nothing was trained or submitted)", stdout);
        string md = File.ReadAllText(Path.Combine(root, "reproduce", "main-table", "quick", "main-table.md"));
        Assert.Contains("Missing from the means: synthetic Popularity seed 1 (not finished (collecting only", md);
        Assert.False(Directory.Exists(Path.Combine(root, "reproduce", "main-table", "quick", "runs")));
    }

    [Fact]
    public void SlurmSettingsWithoutTheSlurmBackendOrWithoutSbatchAreRefused()
    {
        string root = Directory.CreateTempSubdirectory("lrml-backend-args").FullName;
        var (code, stdout, stderr) = Run(root, null, "sweep", "--dataset", "synthetic", "--model", "pop", "--partition", "gpu", "--no-wait");
        Assert.Equal(1, code);
        Assert.Equal("error: --partition, --no-wait apply to --backend slurm only.", Robustness.CliRunner.SingleErrorLine(stdout, stderr));

        (code, stdout, stderr) = Run(root, "/nonexistent", "reproduce", "ablations", "--backend", "slurm");
        Assert.Equal(1, code);
        Assert.StartsWith("error: --backend slurm needs Slurm's sbatch on the PATH", Robustness.CliRunner.SingleErrorLine(stdout, stderr));

        (code, stdout, stderr) = Run(root, null, "sweep", "--dataset", "synthetic", "--model", "pop", "--backend", "slurm", "--dry-run", "--time", "1h");
        Assert.Equal(1, code);
        Assert.StartsWith("error: --time '1h' is not a Slurm time", Robustness.CliRunner.SingleErrorLine(stdout, stderr));

        (code, stdout, stderr) = Run(root, null, "reproduce", "main-table", "--collect", "--backend", "slurm");
        Assert.Equal(1, code);
        Assert.StartsWith("error: --collect trains and submits nothing", Robustness.CliRunner.SingleErrorLine(stdout, stderr));
    }
}
