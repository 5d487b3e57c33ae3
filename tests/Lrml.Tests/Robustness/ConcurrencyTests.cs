using System.Text.Json.Nodes;
using Lrml.Experiments;

namespace Lrml.Tests.Robustness;

/// <summary>
/// Real concurrent `lrml` processes on one folder (issue 11, case 6): a run directory and a sweep are used by one process at a
/// time — the second gets one error line "… is in use by pid N …" and the first finishes with files of one run only — and
/// concurrent `lrml split` of one split all succeed: one process builds the cache entry, the others wait and load it.
/// </summary>
public class ConcurrencyTests
{
    private static string[] TrainArgs(string outDir, string seed, params string[] extra) =>
    [
        "train", "--dataset", "synthetic", "--model", "lrml", "--engine", "fused", "--epochs", "120", "--eval-every", "40", "--patience", "0",
        "--seed", seed, "--set", "dim=16", "--set", "slots=4", "--batch-size", "256", "--no-full-ranking", "--out", outDir, .. extra,
    ];

    [Fact]
    public void ASecondTrainOnTheSameOutIsRefusedWhileTheFirstRuns()
    {
        string root = Directory.CreateTempSubdirectory("lrml-conc-train").FullName;
        string run = Path.Combine(root, "run");
        using var first = CliProcess.Start(root, TrainArgs(run, "4"));
        Assert.True(first.WaitUntil(() => File.Exists(Path.Combine(run, "config.json"))), first.Output);

        // even --overwrite must not touch a directory another process is writing
        using var second = CliProcess.Start(root, TrainArgs(run, "5", "--overwrite"));
        int secondCode = second.Wait();
        Assert.True(secondCode == 1, second.Output);
        Assert.False(first.HasExited, "the first run ended before the second was checked: nothing ran concurrently");
        string error = CliRunner.SingleErrorLine(second.Stdout, second.Stderr);
        Assert.Contains($"'{run}' is in use by pid {first.Id} ", error);
        Assert.Contains("train --dataset synthetic --model lrml --engine fused --epochs 120 --eval-every 40 --patience 0 --seed 4 ", error);   // the holder's command
        Assert.EndsWith("). Wait for it to finish, or choose another --out.", error);

        Assert.True(first.Wait() == 0, first.Output);
        var result = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "result.json")))!;
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "config.json")))!;
        Assert.Equal(4, (long)result["seed"]!);
        Assert.Equal(4, (long)config["train"]!["seed"]!);
        Assert.Empty(OsFaults.TempFiles(root));
    }

    [Fact]
    public void ASecondSweepWithTheSameNameIsRefusedWhileTheFirstRuns()
    {
        string root = Directory.CreateTempSubdirectory("lrml-conc-sweep").FullName;
        string[] Sweep(string trials) =>
            ["sweep", "--dataset", "synthetic", "--model", "bpr", "--space", "dim=4,8", "--trials", trials, "--seeds", "2", "--epochs", "8", "--patience", "0", "--name", "same"];
        string dir = Path.Combine(root, "sweeps", "synthetic", "leave-last-out", "same");
        using var first = CliProcess.Start(root, Sweep("2"));
        Assert.True(first.WaitUntil(() => File.Exists(Path.Combine(dir, "sweep.json"))), first.Output);

        using var second = CliProcess.Start(root, Sweep("1"));
        int secondCode = second.Wait();
        Assert.True(secondCode == 1, second.Output);
        Assert.False(first.HasExited, "the first sweep ended before the second was checked: nothing ran concurrently");
        string error = CliRunner.SingleErrorLine(second.Stdout, second.Stderr);
        Assert.StartsWith($"error: The sweep directory '{dir}' is in use by pid {first.Id} ", error);
        Assert.EndsWith("). Wait for it to finish, or give this sweep another --name or --out.", error);

        Assert.True(first.Wait() == 0, first.Output);
        var chosen = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "chosen.json")))!;
        Assert.Equal(2, (int)chosen["budget"]!);
        Assert.Equal(2, (int)chosen["trials_run"]!);
        Assert.Equal(2, (int)JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "sweep.json")))!["trials"]!);
        Assert.Equal(2, JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "trials.json")))!.AsArray().Count);
    }

    [Fact]
    public void SixConcurrentSplitsOfOneSplitAllSucceedAndOnlyOneBuildsIt()
    {
        string root = Directory.CreateTempSubdirectory("lrml-conc-split").FullName;
        var procs = Enumerable.Range(0, 6).Select(_ => CliProcess.Start(root, "split", "synthetic")).ToList();
        try
        {
            var codes = procs.Select(p => p.Wait()).ToList();
            for (int k = 0; k < procs.Count; k++) Assert.True(codes[k] == 0, procs[k].Output);
            Assert.Equal(1, procs.Count(p => p.Stdout.Contains("Built split ")));
            Assert.Equal(5, procs.Count(p => p.Stdout.Contains("Loaded frozen split ")));
            static string Table(string stdout) => stdout[stdout.IndexOf("users × items", StringComparison.Ordinal)..];
            Assert.All(procs, p => Assert.Equal(Table(procs[0].Stdout), Table(p.Stdout)));
        }
        finally { foreach (var p in procs) p.Dispose(); }
        string cache = Path.Combine(root, "splits");
        var entry = Assert.Single(Directory.GetDirectories(cache));          // the entry only: no half-built folder left
        Assert.Equal(["split.bin", "split.json"], Directory.GetFiles(entry).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Empty(OsFaults.TempFiles(root));
        Lrml.Protocols.SplitStore.Load(entry);
    }
}
