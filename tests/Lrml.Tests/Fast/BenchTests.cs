using Lrml.Fast;
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
            // the CPU probe ran before every repeat and the report states its spread from those very numbers
            Assert.All(shape.Training, t => { Assert.Equal(2, t.ProbeSeconds.Count); Assert.All(t.ProbeSeconds, x => Assert.True(x > 0)); });
            var probes = shape.Training.SelectMany(t => t.ProbeSeconds).ToList();
            Assert.Contains(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"{probes.Min() * 1e3:F1} – {probes.Max() * 1e3:F1} ms, slowest/fastest {probes.Max() / probes.Min():F2}×"), report.ToMarkdown());
            Assert.Equal(probes, back.Shapes[0].Training.SelectMany(t => t.ProbeSeconds));
            // the LRML size rows' phases (the fused engine's own) survive the round trip and reach the Markdown
            Assert.NotEmpty(shape.Training[0].Phases);
            Assert.Equal(shape.Training[0].Phases, back.Shapes[0].Training[0].Phases);
            Assert.Contains(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"| tiny | fused | d=16,N=4 | LazyAdam | {shape.Training[0].Phases.Sum(p => p.Seconds) / shape.Training[0].TimedSteps * 1e6:N0} | — | {BenchReport.PhaseSummary(shape.Training[0].Phases)} |"),
                report.ToMarkdown());
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void EveryRegistryModelIsMeasuredThroughEachOfItsEnginesAtItsPreset()
    {
        var options = BenchOptions.QuickMode with { OutputPath = null, Models = [], Repeats = 2 };
        // every registered model that trains (other tests of this process may have registered more after these)
        Assert.Equal(["lrml", "cml", "bpr", "gmf", "mlp", "neumf", "transcf"], options.Baselines.Take(7));
        Assert.DoesNotContain("pop", options.Baselines);
        var shape = Assert.Single(BenchRunner.Run(options with { Baselines = ["bpr", "mlp"], Variants = [] }).Shapes);
        // every engine the registry lists (torch last), each at the preset's batch and negatives (mlp: 256 × 4); both presets train
        // with exact Adam, so each fast engine is measured a second time with row-sparse LazyAdam, right after its preset row
        FastEngines.Register();
        var expected = new[] { "bpr", "mlp" }.SelectMany(m => ModelRegistry.Get(m).Engines.OrderBy(e => e == "torch")
            .SelectMany(e => e == "torch" ? [(m, e, "adam")] : new[] { (m, e, "adam"), (m, e, "lazy-adam") })).ToList();
        Assert.Equal(expected, shape.Training.Select(t => (t.RegistryModel!, t.Engine, t.Optimizer)).ToList());
        var noLazy = Assert.Single(BenchRunner.Run(options with { Baselines = ["bpr"], MeasureRegistryLazyAdam = false, Evaluate = false, Variants = [] }).Shapes);
        Assert.DoesNotContain(noLazy.Training, t => t.Optimizer == "lazy-adam");
        Assert.All(shape.Training.Where(t => t.RegistryModel == "mlp"), t => Assert.Equal((256, 4), (t.BatchSize, t.Negatives)));
        Assert.All(shape.Training, t => Assert.True(t.TriplesPerSecond > 0 && t.MeanLossPerTriple > 0));
        // where the time goes: the fused rows' phases cover their timed repeats (whole epochs here) and nothing else; exact Adam
        // sweeps every row of the tiny tables, lazy-adam never does; torch is not timed by phase
        foreach (var t in shape.Training.Where(t => t.Engine == "fused"))
        {
            Assert.Equal("epoch", t.Method);
            Assert.Equal(t.EpochRunSeconds.Sum(), t.Phases.Sum(p => p.Seconds), 9);
            Assert.True(t.TimedSteps > 0);
            // the batch's index runs inside the examples' phase, but for exact Adam's items, indexed after it over the rows written
            Assert.Contains(t.Phases, p => p.Phase == (t.Optimizer == "adam" ? "examples (and user index)" : "examples (and index)") && p.Seconds > 0);
            Assert.Equal(t.Optimizer == "adam", t.Phases.Any(p => p.Phase == "item index"));
            Assert.Contains(t.Phases, p => p.Phase == BenchRunner.OutsideSteps);
            Assert.Equal(t.Optimizer == "adam", t.Phases.Any(p => p.Phase == "exact-Adam sweep (every row)"));
            // the exact-Adam floor: the swept floats at the update's measured speed on the bench's 2 threads, and the cap it gives
            Assert.Equal(t.Optimizer == "adam", t.SweptAdamFloats > 0);
            if (t.SweptAdamFloats > 0)
            {
                double ns = t.AdamFloorNanosPerFloat!.Value;
                Assert.True(ns > 0 && double.IsFinite(ns));
                Assert.Equal(AdamFloor.StepSeconds(t.SweptAdamFloats, 2, ns) * 1e6, t.AdamFloorMicrosPerStep!.Value, 9);
                Assert.Equal((double)t.BatchSize * t.Negatives / (t.AdamFloorMicrosPerStep.Value * 1e-6), t.AdamFloorCapTriplesPerSecond!.Value, 6);
            }
            else Assert.True(t.AdamFloorNanosPerFloat is null && t.AdamFloorCapTriplesPerSecond is null);
            Assert.Contains(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"| {t.Optimizer} | {t.Phases.Sum(p => p.Seconds) / t.TimedSteps * 1e6:N0} | {BenchReport.FloorCell(t)} |"),
                new BenchReport { Shapes = [shape] }.ToMarkdown());
        }
        Assert.All(shape.Training.Where(t => t.Engine == "torch"), t => Assert.Empty(t.Phases));
        Assert.Contains("Where a training step's time goes", new BenchReport { Shapes = [shape] }.ToMarkdown());
        var torch = shape.Training.Single(t => t.RegistryModel == "bpr" && t.Engine == "torch");
        Assert.Equal("steps:3", torch.Method);
        Assert.False(torch.EpochMeasured);                                                                  // capped and extrapolated
        Assert.All(shape.Training.Where(t => t.Engine != "torch"), t => Assert.Equal(t.TriplesPerSecond / shape.Training
            .Single(x => x.RegistryModel == t.RegistryModel && x.Engine == "torch").TriplesPerSecond, t.SpeedupVsReference));
        Assert.Contains(shape.Evaluation, e => e.RegistryModel == "pop");
        Assert.Throws<ArgumentException>(() => BenchRunner.Run(options with { Baselines = ["pop"] }));
        Assert.Throws<ArgumentException>(() => BenchRunner.Run(options with { Baselines = ["nosuch"] }));
    }

    [Fact]
    public void VariantsAreMeasuredThroughEveryEngineBesideThePresetAndStayOutOfTheProjection()
    {
        var options = BenchOptions.QuickMode with { OutputPath = null, Models = [], Repeats = 2, Baselines = ["cml"] };
        Assert.Equal([new KeyValuePair<string, string>("rank_weighting", "warp")], Assert.Single(options.Variants).Settings);   // CML+WARP by default
        var shape = Assert.Single(BenchRunner.Run(options).Shapes);
        FastEngines.Register();
        var engines = ModelRegistry.Get("cml").Engines.OrderBy(e => e == "torch").ToList();
        var rows = shape.Training.Select(t => (t.Variant, t.Engine, t.Optimizer)).ToList();
        var expected = new string?[] { null, "rank_weighting=warp" }
            .SelectMany(v => engines.SelectMany(e => e == "torch" ? [(v, e, "adam")] : new[] { (v, e, "adam"), (v, e, "lazy-adam") })).ToList();
        Assert.Equal(expected, rows);
        Assert.All(shape.Training.Where(t => t.Variant is not null), t => Assert.Contains("rank_weighting=warp", t.Model));
        var warpTorch = shape.Training.Single(t => t.Variant is not null && t.Engine == "torch");
        Assert.Equal(shape.Training.Single(t => t.Variant is not null && t.Engine == "fused" && t.Optimizer == "adam").TriplesPerSecond / warpTorch.TriplesPerSecond,
            shape.Training.Single(t => t.Variant is not null && t.Engine == "fused" && t.Optimizer == "adam").SpeedupVsReference);
        Assert.DoesNotContain(shape.Evaluation, e => e.Model.Contains("warp"));                                  // scoring is the preset's
        var cml = Assert.Single(shape.Projection!.Rows, r => r.Model == "cml");
        Assert.Equal(shape.Training.First(t => t.Variant is null && t.Engine == cml.Engine).TriplesPerSecond, cml.TriplesPerSecond);
        Assert.Equal(new BenchVariant("cml", [new("rank_weighting", "warp"), new("warp_negatives", "5")]).Label, BenchVariant.Parse("cml:rank_weighting=warp,warp_negatives=5").Label);
        Assert.Contains("expected model:key=value", Assert.Throws<ArgumentException>(() => BenchVariant.Parse("cml")).Message);
        Assert.Throws<SettingException>(() => (options with { Variants = [BenchVariant.Parse("cml:no_such_setting=1")] }).Validate());
    }

    [Fact]
    public void WithoutFinishedRunsTheMl1mProjectionExpectsTheRecordsMedianEpochs()
    {
        FastEngines.Register();
        var shape = ShapeSpec.Ml1m;
        var models = Lrml.Reproduction.Presets.Models;
        var training = models.Where(m => m != "pop").Select(m => new TrainingMeasure
        {
            RegistryModel = m, Engine = ModelRegistry.EngineUsed(m, null, "cpu", Lrml.Reproduction.Presets.Get(m, "ml-1m").Settings), TriplesPerSecond = 1e6,
        }).ToList();
        var evaluation = models.Select(m => new EvaluationMeasure
        {
            RegistryModel = m, Engine = m == "pop" ? "none" : training.Single(t => t.RegistryModel == m).Engine, FullRankingSeconds = 1,
        }).ToList();
        var p = BenchRunner.Project(shape, 994_169, training, evaluation, BenchOptions.QuickMode with { TypicalEpochs = Lrml.Reproduction.TypicalEpochs.None })!;
        var prior = Lrml.Reproduction.StoppingEpochs.Shipped.TypicalFor("ml-1m")!;
        Assert.Equal(prior.Source, p.ExpectedSource);
        foreach (var row in p.Rows.Where(r => r.Model != "pop"))
            Assert.Equal(Math.Min(prior.ByModel[row.Model], row.MaxEpochs), row.ExpectedEpochs);
        Assert.True(p.Rows.Single(r => r.Model == "lrml").ExpectedEpochs < 50);    // LRML stopped far below its 50 epochs there
        Assert.True(p.ExpectedSeconds < p.AtMostSeconds);
        // a shape the record has no runs on keeps the maximum
        var t = BenchRunner.Project(ShapeSpec.Tiny, 24_000, training, evaluation, BenchOptions.QuickMode with { TypicalEpochs = Lrml.Reproduction.TypicalEpochs.None });
        Assert.All(t!.Rows.Where(r => r.Model != "pop"), r => Assert.Equal(r.MaxEpochs, r.ExpectedEpochs));
    }

    [Fact]
    public void ProjectionIsTheEstimatesFormulaOverTheMeasuredThroughputs()
    {
        // hand-made measurements on the tiny shape (600 users × 400 items, 24,000 pairs): every model of the presets
        var shape = ShapeSpec.Tiny;
        FastEngines.Register();
        var models = Lrml.Reproduction.Presets.Models;
        var training = models.Where(m => m != "pop").Select(m => new TrainingMeasure
        {
            RegistryModel = m, Engine = ModelRegistry.EngineUsed(m, null, "cpu", Lrml.Reproduction.Presets.Get(m, "tiny").Settings), TriplesPerSecond = 480_000,
        }).ToList();
        var evaluation = models.Select(m => new EvaluationMeasure
        {
            RegistryModel = m, Engine = m == "pop" ? "none" : training.Single(t => t.RegistryModel == m).Engine, FullRankingSeconds = 0.5,
        }).ToList();
        var typical = new Lrml.Reproduction.TypicalEpochs(new Dictionary<string, double> { ["bpr"] = 10 }, "test");
        var p = BenchRunner.Project(shape, 24_000, training, evaluation, BenchOptions.QuickMode with { TypicalEpochs = typical })!;
        Assert.True(p.Complete);
        Assert.Equal(models, p.Rows.Select(r => r.Model));
        // bpr (default preset: 30 epochs, 1 negative, batch 1024), leave-last-out with 100 sampled negatives + the held-out item, full
        // ranking: scores/s = 600 × 400 / 0.5 = 480,000; per epoch 24,000 / 480,000 = 0.05 s training + 600 × 101 / 480,000 = 0.12625 s
        // validation; test 600 × 101 + 600 × 400 = 300,600 scores = 0.62625 s; + 2 s → at most 30 × 0.17625 + 2.62625 = 7.91375 s per run, × 5 seeds
        var bpr = p.Rows.Single(r => r.Model == "bpr");
        Assert.Equal(480_000, bpr.ScoresPerSecond, 6);
        Assert.Equal(5 * 7.91375, bpr.AtMostSeconds, 9);
        Assert.Equal(5 * (10 * 0.17625 + 2.62625), bpr.ExpectedSeconds, 9);               // typical 10 epochs
        var pop = p.Rows.Single(r => r.Model == "pop");
        Assert.Equal(1, pop.Runs);
        Assert.Equal(2.62625, pop.AtMostSeconds, 9);                                       // scoring and overhead only
        Assert.Equal(p.Rows.Sum(r => r.AtMostSeconds), p.AtMostSeconds, 9);
        Assert.True(p.ExpectedSeconds < p.AtMostSeconds);
        Assert.All(p.Rows, r => { Assert.Null(r.LazyTriplesPerSecond); Assert.Equal(r.ExpectedSeconds, r.LazyExpectedSeconds); });   // no lazy-adam rows measured
        // a lazy-adam row of bpr on the same engine at 960,000 triples/s halves its training term only: 10 × (0.025 + 0.12625) + 2.62625
        var withLazy = training.Append(training.Single(t => t.RegistryModel == "bpr") with { Optimizer = "lazy-adam", TriplesPerSecond = 960_000 }).ToList();
        var pl = BenchRunner.Project(shape, 24_000, withLazy, evaluation, BenchOptions.QuickMode with { TypicalEpochs = typical })!;
        var bprLazy = pl.Rows.Single(r => r.Model == "bpr");
        Assert.Equal(bpr.ExpectedSeconds, bprLazy.ExpectedSeconds, 9);                    // the preset's own figure is unchanged
        Assert.Equal(960_000, bprLazy.LazyTriplesPerSecond);
        Assert.Equal(5 * (10 * (0.025 + 0.12625) + 2.62625), bprLazy.LazyExpectedSeconds, 9);
        Assert.Equal(p.ExpectedSeconds - 5 * 10 * 0.025, pl.LazyExpectedSeconds, 9);
        Assert.Contains("with lazy-adam where measured", new BenchReport { Shapes = [new ShapeReport { Shape = "tiny", Projection = pl }] }.ToMarkdown());
        // a model not measured on its default engine is left out of the totals and named
        var partial = BenchRunner.Project(shape, 24_000, training.Where(t => t.RegistryModel != "cml").ToList(), evaluation, BenchOptions.QuickMode)!;
        Assert.False(partial.Complete);
        Assert.Single(partial.Missing, m => m.StartsWith("cml"));
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

    [Fact]
    public void ExactAdamOnAShapeBeyondEpochRepeatsIsMeasuredByStepsOnly()
    {
        var options = BenchOptions.QuickMode with
        {
            OutputPath = Path.Combine(Path.GetTempPath(), $"lrml-bench-{Guid.NewGuid():N}.json"), Models = [new(8, 2)], Baselines = [],
            EpochRepeatMaxPairs = 0, FullEpochRepeats = 3, MeasureFusedDenseAdam = false, Reference = false, Evaluate = false,
            Optimizer = OptimizerKind.Adam,
        };
        try
        {
            var t = Assert.Single(Assert.Single(BenchRunner.Run(options).Shapes).Training);
            Assert.Equal("Adam", t.Optimizer);
            Assert.StartsWith("steps:", t.Method);
            Assert.False(t.EpochMeasured);   // no full epochs: extrapolated from the steps
            Assert.Empty(t.EpochRunSeconds);
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
        Assert.Equal(new ShapeSpec("6040x17770x994169", 6_040, 17_770, 994_169), ShapeSpec.Parse("6040x17770x994169"));
        Assert.Throws<ArgumentException>(() => ShapeSpec.Parse("10x10x60"));   // density above 50 %
        Assert.Throws<ArgumentException>(() => ShapeSpec.Parse("10x0x5"));
    }
}
