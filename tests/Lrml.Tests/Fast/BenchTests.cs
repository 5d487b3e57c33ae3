using Lrml.Fast.Bench;
using Lrml.Models;

namespace Lrml.Tests.Fast;

/// <summary>Synthetic shapes, the bench sampler and a quick end-to-end bench run (tiny shape, seconds).</summary>
[Collection("Torch models")]
public class BenchTests
{
    private static readonly ShapeSpec Small = new("small", 300, 200, 9_000);

    [Fact]
    public void SyntheticDataHasTheShapeAndIsDeterministicForAnyThreadCount()
    {
        var a = SyntheticShapeData.Generate(Small, seed: 3, threads: 1);
        var b = SyntheticShapeData.Generate(Small, seed: 3, threads: 3);
        Assert.Equal(9_000, a.Train.Count);
        Assert.Equal(a.Train.Items, b.Train.Items);
        Assert.Equal(a.Train.Offsets, b.Train.Offsets);
        Assert.Equal(a.Candidates, b.Candidates);
        Assert.NotEqual(a.Train.Items, SyntheticShapeData.Generate(Small, seed: 4, threads: 1).Train.Items);
        for (int u = 0; u < Small.Users; u++)
        {
            var row = a.Train[u];
            Assert.True(row.Length >= 5, $"user {u} has {row.Length} items");
            for (int x = 1; x < row.Length; x++) Assert.True(row[x - 1] < row[x], "rows are sorted and unique");
            Assert.False(a.Train.Contains(u, a.TestItem[u]));
            var cand = a.Candidates.AsSpan(u * 100, 100).ToArray();
            Assert.Equal(a.TestItem[u], cand[0]);
            Assert.Equal(100, cand.Distinct().Count());
            Assert.All(cand, i => Assert.False(a.Train.Contains(u, i)));
        }
        for (int p = 0; p < a.Train.Count; p++) Assert.True(p >= a.Train.Offsets[a.PairUser[p]] && p < a.Train.Offsets[a.PairUser[p] + 1]);
        // Zipf-like popularity: the most popular item is far above the mean
        var counts = new int[Small.Items];
        foreach (int i in a.Train.Items) counts[i]++;
        Assert.True(counts.Max() > 1.8 * counts.Average(), $"max {counts.Max()} vs mean {counts.Average():F1}");
    }

    [Fact]
    public void SamplerEpochCoversEveryPairOnceWithValidNegativesAndIgnoresThreadCount()
    {
        var data = SyntheticShapeData.Generate(Small, seed: 1, threads: 2);
        using var one = new BenchNegativeSampler(data.Train, data.PairUser, seed: 9, threads: 1);
        using var two = new BenchNegativeSampler(data.Train, data.PairUser, seed: 9, threads: 2);
        var b1 = new TrainingBatch(512, 3); var b2 = new TrainingBatch(512, 3);
        one.BeginEpoch(); two.BeginEpoch();
        var seen = new HashSet<(int, int)>();
        int batches = 0;
        while (one.NextEpochBatch(b1))
        {
            Assert.True(two.NextEpochBatch(b2));
            Assert.Equal(b1.Count, b2.Count);
            Assert.Equal(b1.Users[..b1.Count], b2.Users[..b2.Count]);
            Assert.Equal(b1.Negatives[..(3 * b1.Count)], b2.Negatives[..(3 * b2.Count)]);
            for (int x = 0; x < b1.Count; x++)
            {
                Assert.True(data.Train.Contains(b1.Users[x], b1.Positives[x]));
                Assert.True(seen.Add((b1.Users[x], b1.Positives[x])), "each pair once per epoch");
                for (int j = 0; j < 3; j++) Assert.False(data.Train.Contains(b1.Users[x], b1.Negatives[3 * x + j]));
            }
            batches++;
        }
        Assert.False(two.NextEpochBatch(b2));
        Assert.Equal(data.Train.Count, seen.Count);
        Assert.Equal((data.Train.Count + 511) / 512, batches);
    }

    [Fact]
    public void QuickRunReportsEveryMeasureAndRoundTripsAsJson()
    {
        string path = Path.Combine(Path.GetTempPath(), $"lrml-bench-{Guid.NewGuid():N}.json");
        try
        {
            var options = BenchOptions.QuickMode with { OutputPath = path, Models = [new(16, 4)], Baselines = [], Repeats = 2 };
            var report = BenchRunner.Run(options);
            var shape = Assert.Single(report.Shapes);
            Assert.Equal("tiny", shape.Shape);
            Assert.Equal(ShapeSpec.Tiny.Interactions, shape.TrainPairs);
            var engines = shape.Training.Select(t => (t.Engine, t.Optimizer)).ToList();
            Assert.Equal([("fused", "LazyAdam"), ("fused", "Adam"), ("torchsharp", "Adam")], engines);
            Assert.All(shape.Training, t => { Assert.True(t.TriplesPerSecond > 0 && t.TriplesPerCpuSecond > 0); Assert.Equal(2, t.RunTriplesPerSecond.Count); Assert.True(t.MeanLossPerTriple > 0); });
            Assert.NotNull(shape.Training[0].SpeedupVsReference);
            Assert.True(shape.Training[0].EpochMeasured);
            var ev = Assert.Single(shape.Evaluation);
            Assert.True(ev.SampledSeconds > 0 && ev.FullRankingSeconds > 0);
            Assert.InRange(ev.SampledHitRate, 0, 1);
            Assert.True(shape.PeakWorkingSetBytes > 10_000_000);
            Assert.True(report.Machine.LogicalCores >= 1);
            Assert.False(string.IsNullOrEmpty(report.Machine.DotNet));
            Assert.Equal("0.107.0", report.Machine.TorchSharp);
            Assert.Contains(report.Notes, n => n.Contains("LazyAdam"));
            var back = BenchReport.FromJson(File.ReadAllText(path));
            Assert.Equal(report.Shapes[0].Training[0].TriplesPerSecond, back.Shapes[0].Training[0].TriplesPerSecond);
            Assert.Equal(report.Machine, back.Machine);
            Assert.Contains("| tiny | fused | d=16,N=4 | LazyAdam |", report.ToMarkdown());
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void BaselinesAreMeasuredOnTheFusedAndTorchEngines()
    {
        var options = BenchOptions.QuickMode with { OutputPath = null, Models = [], Baselines = ["bpr", "gmf"], Repeats = 2 };
        var shape = Assert.Single(BenchRunner.Run(options).Shapes);
        Assert.Equal([("fused", "bpr d=100", "Adam"), ("fused", "bpr d=100", "LazyAdam"), ("torchsharp", "bpr d=100", "Adam"),
                      ("fused", "gmf d=16", "Adam"), ("torchsharp", "gmf d=16", "Adam")],
            shape.Training.Select(t => (t.Engine, t.Model, t.Optimizer)).ToList());
        Assert.All(shape.Training, t => Assert.True(t.TriplesPerSecond > 0 && t.MeanLossPerTriple > 0));
        Assert.All(shape.Training.Where(t => t.Engine == "fused"), t => Assert.NotNull(t.SpeedupVsReference));
        Assert.Equal(["bpr d=100 fused", "bpr d=100 torch", "gmf d=16 fused", "gmf d=16 torch"], shape.Evaluation.Select(e => e.Model).ToList());
        var ncf = Assert.Single(BenchRunner.Run(options with { Baselines = ["neumf"], Evaluate = false }).Shapes);
        Assert.Equal([("fused", "neumf d=16,layers=[128,64,32,16]", "Adam"), ("torchsharp", "neumf d=16,layers=[128,64,32,16]", "Adam")],
            ncf.Training.Select(t => (t.Engine, t.Model, t.Optimizer)).ToList());
        Assert.Throws<ArgumentException>(() => BenchRunner.Run(options with { Baselines = ["transcf"] }));
    }

    [Fact]
    public void ShapesBeyondEpochRepeatsReportTheMedianOfSeveralFullEpochs()
    {
        var options = BenchOptions.QuickMode with
        {
            OutputPath = Path.Combine(Path.GetTempPath(), $"lrml-bench-{Guid.NewGuid():N}.json"), Models = [new(8, 2)], Baselines = [],
            EpochRepeatMaxPairs = 0, FullEpochRepeats = 3, MeasureFusedDenseAdam = false, Reference = false, Evaluate = false,
        };
        try
        {
            var t = Assert.Single(Assert.Single(BenchRunner.Run(options).Shapes).Training);
            Assert.StartsWith("steps:", t.Method);
            Assert.True(t.EpochMeasured);
            Assert.Equal(3, t.EpochRunSeconds.Count);
            Assert.Equal(t.EpochRunSeconds.Order().ElementAt(1), t.EpochSeconds);
        }
        finally { File.Delete(options.OutputPath!); }
    }

    [Theory]
    [InlineData("50x10", 50, 10)]
    [InlineData("d=100,N=20", 100, 20)]
    [InlineData(" 8 X 2 ", 8, 2)]
    public void ModelShapesParseBothForms(string text, int d, int n) => Assert.Equal(new BenchModelShape(d, n), BenchModelShape.Parse(text));

    [Theory]
    [InlineData("50")]
    [InlineData("0x10")]
    [InlineData("d=50;N=10")]
    [InlineData("N=10,d=50")]
    public void BadModelShapesNameTheText(string text) => Assert.Contains(text, Assert.Throws<ArgumentException>(() => BenchModelShape.Parse(text)).Message);

    [Fact]
    public void OptionsAreValidated()
    {
        Assert.Throws<ArgumentException>(() => BenchRunner.Run(new BenchOptions { Shapes = ["ml-2m"] }));
        Assert.Throws<ArgumentException>(() => BenchRunner.Run(new BenchOptions { Threads = 0 }));
        Assert.Throws<ArgumentException>(() => BenchRunner.Run(new BenchOptions { FullEpochRepeats = 0 }));
        Assert.Equal(ShapeSpec.Ml20m, ShapeSpec.Parse("ML-20M"));
    }
}
