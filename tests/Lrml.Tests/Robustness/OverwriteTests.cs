using System.Text.Json.Nodes;
using Lrml.Experiments;

namespace Lrml.Tests.Robustness;

/// <summary>
/// `lrml train --overwrite` (issue 11, case 7) trains the new run beside the old one and swaps them only when the new run has
/// finished: a rerun that diverges, fills the disk or is killed leaves the previous run exactly as it was, and the message
/// says so.
/// </summary>
public class OverwriteTests
{
    private static string[] Bpr(string outDir, string seed, string epochs, params string[] extra) =>
    [
        "train", "--dataset", "synthetic", "--model", "bpr", "--set", "dim=16", "--epochs", epochs, "--seed", seed, "--batch-size", "256",
        "--no-full-ranking", "--out", outDir, .. extra,
    ];

    /// <summary>Every file of a folder with its bytes.</summary>
    private static Dictionary<string, byte[]> Snapshot(string dir) =>
        Directory.GetFiles(dir, "*", SearchOption.AllDirectories).ToDictionary(f => Path.GetRelativePath(dir, f), File.ReadAllBytes);

    private static void AssertUnchanged(Dictionary<string, byte[]> before, string dir)
    {
        var after = Snapshot(dir);
        Assert.Equal(before.Keys.Order(StringComparer.Ordinal), after.Keys.Order(StringComparer.Ordinal));
        foreach (var (name, bytes) in before) Assert.True(bytes.AsSpan().SequenceEqual(after[name]), $"{name} changed");
    }

    /// <summary>Folders next to the run directory other than itself (a staging folder left behind).</summary>
    private static string[] Siblings(string run) =>
        Directory.GetDirectories(Path.GetDirectoryName(run)!).Where(d => d != run).ToArray();

    [Fact]
    public void AnOverwriteThatDivergesKeepsThePreviousRunAndSaysSo()
    {
        string root = Directory.CreateTempSubdirectory("lrml-ow-diverge").FullName;
        string parent = Directory.CreateDirectory(Path.Combine(root, "runs")).FullName;
        string run = Path.Combine(parent, "run");
        var (code, o, e) = CliRunner.Run(root, Bpr(run, "4", "2"));
        Assert.True(code == 0, o + e);
        var before = Snapshot(run);
        Assert.Contains("result.json", before.Keys);

        (code, o, e) = CliRunner.Run(root, Bpr(run, "4", "6", "--set", "optimizer=sgd", "--lr", "1", "--checkpoint-every", "20", "--overwrite"));
        Assert.Equal(1, code);
        string error = CliRunner.SingleErrorLine(o, e);
        Assert.Matches(@"at epoch \d+, step \d+ of \d+", error);
        Assert.Contains($"The previous run in '{run}' is unchanged", error);
        Assert.DoesNotContain("The checkpoints on disk are the last good ones", error);
        AssertUnchanged(before, run);
        Assert.Empty(Siblings(run));
        Assert.Empty(OsFaults.TempFiles(root));
    }

    [Fact]
    public void AnOverwriteThatSucceedsReplacesTheRunAsAWhole()
    {
        string root = Directory.CreateTempSubdirectory("lrml-ow-ok").FullName;
        string run = Path.Combine(root, "runs", "run");
        var (code, o, e) = CliRunner.Run(root, Bpr(run, "4", "2"));
        Assert.True(code == 0, o + e);
        (code, o, e) = CliRunner.Run(root, Bpr(run, "5", "2"));
        Assert.Equal(1, code);
        Assert.Contains("already exists and is not empty", CliRunner.SingleErrorLine(o, e));

        (code, o, e) = CliRunner.Run(root, Bpr(run, "5", "1", "--overwrite"));
        Assert.True(code == 0, o + e);
        Assert.Equal(5, (long)JsonNode.Parse(File.ReadAllText(Path.Combine(run, "result.json")))!["seed"]!);
        Assert.Equal(5, (long)JsonNode.Parse(File.ReadAllText(Path.Combine(run, "config.json")))!["train"]!["seed"]!);
        Assert.Single(File.ReadAllLines(Path.Combine(run, "epochs.jsonl")));          // the old run's two epochs are gone
        Assert.Empty(Siblings(run));
    }

    /// <summary>The rerun is killed (SIGKILL) while it trains: the previous run is untouched, and the next --overwrite cleans up
    /// the killed rerun's folder and finishes.</summary>
    [Fact]
    public void AnOverwriteKilledMidRunKeepsThePreviousRun()
    {
        string root = Directory.CreateTempSubdirectory("lrml-ow-kill").FullName;
        string run = Path.Combine(root, "runs", "run");
        var (code, o, e) = CliRunner.Run(root, Bpr(run, "4", "2"));
        Assert.True(code == 0, o + e);
        var before = Snapshot(run);

        string[] slow = ["train", "--dataset", "synthetic", "--model", "lrml", "--engine", "torch", "--set", "dim=16", "--set", "slots=4", "--epochs", "30",
            "--seed", "9", "--batch-size", "256", "--no-full-ranking", "--out", run, "--overwrite"];
        using (var rerun = CliProcess.Start(root, slow))
        {
            bool RerunTrains()
            {
                try
                {
                    return Directory.GetFiles(Path.Combine(root, "runs"), "epochs.jsonl", SearchOption.AllDirectories).Any(f =>
                        (long)JsonNode.Parse(File.ReadAllText(Path.Combine(Path.GetDirectoryName(f)!, "config.json")))!["train"]!["seed"]! == 9);
                }
                catch (IOException) { return false; }          // a folder or file changed while it was read
            }
            Assert.True(rerun.WaitUntil(RerunTrains), rerun.Output);
            Assert.False(rerun.HasExited, rerun.Output);
            rerun.KillHard();
        }
        AssertUnchanged(before, run);

        (code, o, e) = CliRunner.Run(root, Bpr(run, "5", "1", "--overwrite"));
        Assert.True(code == 0, o + e);
        Assert.Equal(5, (long)JsonNode.Parse(File.ReadAllText(Path.Combine(run, "result.json")))!["seed"]!);
        Assert.Empty(Siblings(run));
        Assert.Empty(OsFaults.TempFiles(root));
    }

    /// <summary>A real full disk (tiny tmpfs, needs root): the run directory holds one finished run and there is no room for a
    /// second copy. The --overwrite rerun fails naming the full disk and saying the previous run is unchanged, and it is.</summary>
    [Fact]
    public void AnOverwriteThatFillsTheDiskKeepsThePreviousRun()
    {
        string root = Directory.CreateTempSubdirectory("lrml-ow-full").FullName;
        string reference = Path.Combine(root, "reference");
        var (code, o, e) = CliRunner.Run(root, Bpr(reference, "4", "1"));
        Assert.True(code == 0, o + e);
        long bytes = Directory.GetFiles(reference).Sum(f => new FileInfo(f).Length);
        long ck = new FileInfo(Path.Combine(reference, Experiment.CheckpointFile)).Length;

        using var disk = OsFaults.TinyDiskOrSkip((int)((bytes + ck / 2) / 1024 + 64));
        string run = Path.Combine(disk.Path, "run");
        (code, o, e) = CliRunner.Run(root, Bpr(run, "4", "1"));
        Assert.True(code == 0, o + e);
        var before = Snapshot(run);

        (code, o, e) = CliRunner.Run(root, Bpr(run, "5", "1", "--overwrite"));
        Assert.Equal(1, code);
        string error = CliRunner.SingleErrorLine(o, e);
        Assert.Contains("the disk is full", error);
        Assert.Contains($"The previous run in '{run}' is unchanged", error);
        AssertUnchanged(before, run);
        Assert.Empty(Siblings(run));
        Assert.Empty(OsFaults.TempFiles(disk.Path));
    }
}
