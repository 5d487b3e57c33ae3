using System.Text.Json.Nodes;
using Lrml.Evaluation;
using Lrml.Experiments;
using Lrml.Reproduction;

namespace Lrml.Tests.Reproduction;

/// <summary><see cref="RunComparison"/> (`lrml compare`): Welch's test against a value computed independently, the
/// verdicts and the sentence they print, the paired per-user test, and the refusals (other split, not a run).</summary>
public class RunComparisonTests
{
    private static StoredRun Run(int seed, double hr, double ndcg, Func<int, double>? perUser = null, string fingerprint = "f1", string dataset = "ml-1m") => new(new RunResult
    {
        Dataset = dataset, Protocol = "ncf", Model = "BPR-MF", Config = new JsonObject(), Seed = seed,
        Metrics = new SortedDictionary<string, double> { ["HR@10"] = hr, ["nDCG@10"] = ndcg }, TrainSeconds = 1, Epochs = 3, Commit = "abc",
        Split = new Dictionary<string, string> { ["fingerprint"] = fingerprint, ["test_pairs"] = "40" },
    }, new Dictionary<string, Dictionary<int, double>> { ["nDCG@10"] = Enumerable.Range(0, 40).ToDictionary(u => u, perUser ?? (u => ndcg)) },
        $"/tmp/run-{dataset}-{fingerprint}-{seed}-{hr}");

    [Fact]
    public void WelchPMatchesAnIndependentComputation()
    {
        // x = {0.40, 0.42}, y = {0.43, 0.45, 0.44}: t = 0.03 / √(0.0002/2 + 0.0001/3) = 2.598, Welch df = 1.684; the two-sided p
        // 0.14437 was integrated numerically from the t density (Simpson, 2·10⁶ panels) outside the kit
        Assert.Equal(0.14437, RunComparison.WelchP([0.40, 0.42], [0.43, 0.45, 0.44]), 4);
        Assert.Equal(1.0, RunComparison.WelchP([0.5, 0.5], [0.5, 0.5]));     // no noise and no difference
        Assert.Equal(0.0, RunComparison.WelchP([0.5, 0.5], [0.6, 0.6]));     // no noise, a difference
        Assert.True(double.IsNaN(RunComparison.WelchP([0.5], [0.6, 0.7])));   // one run: no seed-noise estimate
    }

    [Fact]
    public void VerdictsAndSentenceSayWhichMetricsAgreeWithinSeedNoiseAndWhichDiffer()
    {
        // HR@10 differs by less than the seeds do; nDCG@10 is 0.05 higher on B with seed std 0.001
        var a = new[] { Run(1, 0.60, 0.400, u => 0.3 + 0.005 * (u % 7)), Run(2, 0.64, 0.402, u => 0.3 + 0.004 * (u % 5)) };
        var b = new[] { Run(1, 0.63, 0.450, u => 0.35 + 0.005 * (u % 7)), Run(2, 0.61, 0.452, u => 0.36 + 0.004 * (u % 3)) };
        var t = RunComparison.Compare(a, b, ["HR@10", "nDCG@10", "MRR"], "torch", "fused");
        Assert.Equal(2, t.Rows.Count);                                                  // MRR is reported by neither side
        Assert.Equal("within seed noise", t.Text(0, "verdict"));
        Assert.Equal("fused above", t.Text(1, "verdict"));
        Assert.Equal(0.451 - 0.401, (double)t.Get(1, "diff")!, 12);
        Assert.Equal(RunComparison.WelchP([0.400, 0.402], [0.450, 0.452]), (double)t.Get(1, "Welch p (runs)")!);
        // the paired test runs over per-user values with each side's two seeds averaged
        var ua = Enumerable.Range(0, 40).Select(u => 0.5 * (0.3 + 0.005 * (u % 7) + 0.3 + 0.004 * (u % 5))).ToArray();
        var ub = Enumerable.Range(0, 40).Select(u => 0.5 * (0.35 + 0.005 * (u % 7) + 0.36 + 0.004 * (u % 3))).ToArray();
        Assert.Equal(Statistics.PairedTTest(ub, ua).PValue, (double)t.Get(1, "paired p (users)")!, 12);
        Assert.Equal("fused and torch agree within seed noise on HR@10; differ on nDCG@10 (fused above, +12.47 %).", RunComparison.Sentence(t, "torch", "fused"));
        var lower = RunComparison.Compare(b, a, ["nDCG@10"], "fused", "torch");
        Assert.Equal("torch below", lower.Text(0, "verdict"));
        var single = RunComparison.Compare([a[0]], b, ["HR@10"], "torch", "fused");
        Assert.Equal("one run: no seed noise", single.Text(0, "verdict"));
        Assert.Equal("fused and torch cannot be tested on HR@10 (a side has one run).", RunComparison.Sentence(single, "torch", "fused"));
    }

    [Fact]
    public void RunsOfDifferentSplitsOrDatasetsAndDirectoriesWithoutAResultAreRefused()
    {
        var e = Assert.Throws<ArgumentException>(() => RunComparison.Compare([Run(1, 0.6, 0.4)], [Run(1, 0.6, 0.4, fingerprint: "f2")], ["HR@10"]));
        Assert.Contains("different splits", e.Message);
        Assert.Contains("/tmp/run-ml-1m-f2-1-0.6", e.Message);
        Assert.Contains("compare runs of one split", Assert.Throws<ArgumentException>(() =>
            RunComparison.Compare([Run(1, 0.6, 0.4)], [Run(1, 0.6, 0.4, dataset: "ml-100k")], ["HR@10"])).Message);
        Assert.Throws<ArgumentException>(() => RunComparison.Compare([], [Run(1, 0.6, 0.4)], ["HR@10"]));
        string dir = Path.Combine(Path.GetTempPath(), $"lrml-notarun-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try { Assert.Contains($"{dir}: no result.json", Assert.Throws<ArgumentException>(() => RunComparison.Load([dir])).Message); }
        finally { Directory.Delete(dir, true); }
    }
}
