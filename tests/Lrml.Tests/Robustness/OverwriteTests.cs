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
        Assert.EndsWith($"This --overwrite rerun was discarded. The previous run in '{run}' is unchanged. " +
                        "Likely causes: a learning rate too high for this model, or a margin/scale that lets distances blow up; " +
                        "try a 3–10× lower learning rate, a smaller margin, or gradient clipping.", error);
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
        Assert.Contains($"Training beside the previous run (in '{Path.Combine(Path.GetDirectoryName(run)!, ".run.new-")}", o);
        Assert.Contains($"it replaces '{run}' only when it has finished", o);
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
        Assert.Matches(@"Deleted '.*/\.run\.new-\d+', left by an interrupted --overwrite rerun", o);
        Assert.Equal(5, (long)JsonNode.Parse(File.ReadAllText(Path.Combine(run, "result.json")))!["seed"]!);
        Assert.Empty(Siblings(run));
        Assert.Empty(OsFaults.TempFiles(root));
    }

    private static RunSpec Spec(long seed) => new()
    {
        Dataset = "synthetic", Model = "bpr", Settings = [new("dim", "8")], FullRanking = false,
        Train = new Lrml.Training.TrainConfig { Epochs = 1, BatchSize = 1024, Seed = seed, Threads = 1 },
    };

    private static ExperimentContext Context(string root, bool overwrite, List<string>? messages = null) => new()
    {
        Data = new Lrml.Data.DataDirectory(Path.Combine(root, "no-data")), ResultsRoot = root, Overwrite = overwrite,
        Observer = new LineObserver(new ListWriter(messages ?? [])),
    };

    private sealed class ListWriter(List<string> lines) : StringWriter
    {
        public override void WriteLine(string? value) => lines.Add(value ?? "");
    }

    /// <summary>A rerun killed between the two renames of its swap leaves no run directory, the previous run in
    /// .run.old-PID and the new one in .run.new-PID. The next start in that place puts the previous run back (it was never
    /// replaced: the rerun did not report success) and removes the rest.</summary>
    [Fact]
    public void APreviousRunMovedAsideByAKilledSwapIsPutBack()
    {
        string root = Directory.CreateTempSubdirectory("lrml-ow-swap").FullName;
        string parent = Directory.CreateDirectory(Path.Combine(root, "runs")).FullName, run = Path.Combine(parent, "run");
        Experiment.Run(Spec(4), Context(root, false), run);
        var before = Snapshot(run);
        using var dead = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("true") { UseShellExecute = false })!;
        dead.WaitForExit();
        Directory.Move(run, Path.Combine(parent, $".run.old-{dead.Id}"));
        File.WriteAllText(Path.Combine(Directory.CreateDirectory(Path.Combine(parent, $".run.new-{dead.Id}")).FullName, "result.json"), "{}");

        var messages = new List<string>();
        var e = Assert.Throws<IOException>(() => Experiment.Run(Spec(5), Context(root, false, messages), run));
        Assert.Contains($"Restored the previous run in '{run}' (an --overwrite rerun was killed while swapping it)", messages);
        Assert.Equal($"The run directory '{run}' already exists and is not empty. Choose another --out, or pass --overwrite to replace it.", e.Message);
        AssertUnchanged(before, run);
        Assert.Empty(Siblings(run));
    }

    /// <summary>--overwrite replaces run directories only: a folder that also holds other files (a results root given as --out
    /// by mistake) is refused and left alone.</summary>
    [Fact]
    public void OverwriteRefusesAFolderThatIsNotARunDirectory()
    {
        string root = Directory.CreateTempSubdirectory("lrml-ow-notrun").FullName;
        string dir = Directory.CreateDirectory(Path.Combine(root, "mine")).FullName;
        File.WriteAllText(Path.Combine(dir, "result.json"), "{}");
        File.WriteAllText(Path.Combine(dir, "notes.txt"), "mine");
        var e = Assert.Throws<IOException>(() => Experiment.Run(Spec(4), Context(root, true), dir));
        Assert.Equal($"'{dir}' is not a run directory (it holds 'notes.txt'), so --overwrite does not replace it. Choose another --out.", e.Message);
        Assert.Equal("mine", File.ReadAllText(Path.Combine(dir, "notes.txt")));
        Assert.Equal("{}", File.ReadAllText(Path.Combine(dir, "result.json")));
    }

    /// <summary>A real full disk (tiny tmpfs, needs root): the run directory holds one finished run and there is no room for a
    /// second copy. The --overwrite rerun fails naming the full disk and saying the previous run is unchanged, and it is.</summary>
    [Fact]
    public void AnOverwriteThatFillsTheDiskKeepsThePreviousRun()
    {
        string root = Directory.CreateTempSubdirectory("lrml-ow-full").FullName;
        string reference = Path.Combine(root, "reference");
        var (code, o, e) = CliRunner.Run(root, Bpr(reference, "4", "1", "--keep-checkpoints"));   // sized with the checkpoint the runs below keep
        Assert.True(code == 0, o + e);
        long bytes = Directory.GetFiles(reference).Sum(f => new FileInfo(f).Length);
        long ck = new FileInfo(Path.Combine(reference, Experiment.CheckpointFile)).Length;

        using var disk = OsFaults.TinyDiskOrSkip((int)((bytes + ck / 2) / 1024 + 64));
        string run = Path.Combine(disk.Path, "run");
        (code, o, e) = CliRunner.Run(root, Bpr(run, "4", "1", "--keep-checkpoints"));
        Assert.True(code == 0, o + e);
        var before = Snapshot(run);

        (code, o, e) = CliRunner.Run(root, Bpr(run, "5", "1", "--overwrite", "--keep-checkpoints"));
        Assert.Equal(1, code);
        string error = CliRunner.SingleErrorLine(o, e);
        Assert.Matches($@"^error: Could not write '{System.Text.RegularExpressions.Regex.Escape(run)}/[a-z_.]+': the disk is full \(no space left on device\)\. " +
                       $@"The previous file, if any, is unchanged\. This --overwrite rerun was discarded\. The previous run in '{System.Text.RegularExpressions.Regex.Escape(run)}' is unchanged\.$", error);
        AssertUnchanged(before, run);
        Assert.Empty(Siblings(run));
        Assert.Empty(OsFaults.TempFiles(disk.Path));
    }
}
