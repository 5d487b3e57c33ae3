using System.Text.Json.Nodes;
using Lrml.Data;
using Lrml.Experiments;
using Lrml.Models;
using Lrml.Fast;
using Lrml.Protocols;
using Lrml.Training;
using Lrml.Tests.Fast;
using static Lrml.Tests.Fast.FusedTestData;

namespace Lrml.Tests.Models;

/// <summary>
/// The memory-usage diagnostics (<see cref="MemoryUsage"/>): values computed by hand on tiny models of both engines,
/// the gradient norms against the engines' own gradients, the epoch log, and that measuring never changes a run.
/// </summary>
[Collection("Torch models")]
public class MemoryUsageTests
{
    /// <summary>d = 2, N = 2, no clip: K = 100·I, so pair (0, 0) with s = (0.25, 0.01) attends slot 0 (logits 25, 1) and
    /// pair (1, 1) with s = (0.01, 0.25) attends slot 1; M = I, so r is (1, 0) or (0, 1) up to e^−24.</summary>
    private static (LrmlConfig, LrmlParameters) SharpModel()
    {
        var cfg = new LrmlConfig { Dim = 2, Slots = 2, NormConstraint = NormConstraint.None };
        var p = new LrmlParameters(2, 2, 2, 2, [0.5f, 0.1f, 0.1f, 0.5f], [0.5f, 0.1f, 0.1f, 0.5f], [100f, 0f, 0f, 100f], [1f, 0f, 0f, 1f]);
        return (cfg, p);
    }

    private static IRelationalModel Build(string engine, LrmlConfig cfg, LrmlParameters p) =>
        engine == "fused" ? new LrmlFused(cfg, p) : new LrmlModel(cfg, p, dtype: TorchSharp.torch.ScalarType.Float64);

    [Theory]
    [InlineData("fused")]
    [InlineData("torch")]
    public void AOneHotAttentionMeasuresAsUsedMemory(string engine)
    {
        var (cfg, p) = SharpModel();
        using var model = (IDisposable)Build(engine, cfg, p);
        var u = MemoryUsage.Measure((IRelationalModel)model, [0, 1], [0, 1]);
        Assert.Equal(2, u.Pairs);
        Assert.InRange(u.AttentionEntropy, 0, 1e-8);     // −Σ a ln a with a = (1 − e^−24, e^−24): ≈ 25·e^−24 ≈ 9e−10
        Assert.InRange(u.EntropyRatio, 0, 1e-8);
        Assert.Equal(1.0, u.MaxAttention, 9);
        Assert.Equal(12.0, u.LogitStd, 4);                // population std of the logits (25, 1): 12
        Assert.Equal(1.0, u.RelationNorm, 6);             // r = (1, 0) and (0, 1)
        Assert.Equal(0.5, u.RelationSpread, 6);           // each coordinate is 1 for one pair and 0 for the other: std 0.5
        Assert.Equal(0.0, u.UserItemDistance, 9);         // p = q for both pairs
        Assert.True(double.IsNaN(u.GradNormK) && double.IsNaN(u.GradNormM));
    }

    [Theory]
    [InlineData("fused")]
    [InlineData("torch")]
    public void AZeroKeyGivesTheUniformAttentionAndOneConstantRelation(string engine)
    {
        // K = 0: a = (1/3, 1/3, 1/3) for every pair, r = the mean row of M for every pair
        var cfg = new LrmlConfig { Dim = 2, Slots = 3, NormConstraint = NormConstraint.Clip };
        var p = new LrmlParameters(2, 2, 2, 3, [3f, 4f, 0.1f, 0.2f], [0f, 1f, 0.3f, 0.1f], new float[6], [0.3f, 0f, 0f, 0.6f, 0f, 0f]);
        using var model = (IDisposable)Build(engine, cfg, p);
        var u = MemoryUsage.Measure((IRelationalModel)model, [0, 1, 1], [0, 0, 1]);
        Assert.Equal(Math.Log(3), u.AttentionEntropy, 6);
        Assert.Equal(1.0, u.EntropyRatio, 6);
        Assert.Equal(1.0 / 3, u.MaxAttention, 6);
        Assert.Equal(0.0, u.LogitStd, 6);
        Assert.Equal(Math.Sqrt(0.1 * 0.1 + 0.2 * 0.2), u.RelationNorm, 6);   // r = (0.1, 0.2)
        Assert.Equal(0.0, u.RelationSpread, 6);
        // ‖p − q‖ after the clip: user 0 = (3, 4)/5 = (0.6, 0.8); pairs (0,0), (1,0), (1,1)
        double expected = (Math.Sqrt(0.36 + 0.04) + Math.Sqrt(0.01 + 0.64) + Math.Sqrt(0.04 + 0.01)) / 3;
        Assert.Equal(expected, u.UserItemDistance, 6);
    }

    [Theory]
    [InlineData("fused", 0f)]
    [InlineData("fused", 0.3f)]
    [InlineData("torch", 0f)]
    [InlineData("torch", 0.3f)]
    public void GradientNormsAreThoseOfTheHingeGradientPerStep(string engine, float l2)
    {
        var cfg = Config(l2: l2, opt: OptimizerKind.Adam);
        var p = Params(cfg);
        var batches = new[] { Batch(2, seed: 5), Batch(2, seed: 6) };
        // the expected norms: the hinge gradients of each step, from the scalar reference at the parameters of that step
        using var probe = new LrmlFused(cfg, p);
        double sumK = 0, sumM = 0;
        foreach (var b in batches)
        {
            var (u, pos, neg) = Arrays(b);
            var g = new LrmlScalarReference(cfg with { L2 = 0 }, probe.ExportParameters()).LossAndGrad(u, pos, neg, 2, false);
            sumK += Math.Sqrt(g.K.Sum(x => x * x)); sumM += Math.Sqrt(g.M.Sum(x => x * x));
            probe.TrainStep(b);
        }
        using var model = (IDisposable)Build(engine, cfg, p);
        var trainable = (ITrainableRecommender)model;
        var relational = (IRelationalModel)model;
        foreach (var b in batches) trainable.TrainStep(b);
        var taken = relational.TakeMemoryGradientNorms();
        Assert.Equal(2, taken.Steps);
        Assert.Equal(sumK, taken.SumK, 2e-4 * sumK);
        Assert.Equal(sumM, taken.SumM, 2e-4 * sumM);
        Assert.Equal(sumK / 2, taken.MeanK, 2e-4 * sumK);
        Assert.Equal(0, relational.TakeMemoryGradientNorms().Steps);   // taking starts a new accumulation
    }

    [Theory]
    [InlineData("fused")]
    [InlineData("torch")]
    public void FrozenMemoryReportsNoGradientSteps(string engine)
    {
        var cfg = Config(trainMemory: false);
        using var model = (IDisposable)Build(engine, cfg, Params(cfg));
        ((ITrainableRecommender)model).TrainStep(Batch(2));
        var taken = ((IRelationalModel)model).TakeMemoryGradientNorms();
        Assert.Equal(0, taken.Steps);
        Assert.True(double.IsNaN(taken.MeanK) && double.IsNaN(taken.MeanM));
    }

    [Fact]
    public void SamplePairsDrawsDistinctTrainingPairsDeterministically()
    {
        var train = UserItems.FromPairs(3, 5, [0, 0, 1, 1, 2, 2, 2], [0, 1, 2, 3, 0, 1, 4]);
        var (u1, i1) = MemoryUsage.SamplePairs(train, 4, 7);
        var (u2, i2) = MemoryUsage.SamplePairs(train, 4, 7);
        Assert.Equal(u1, u2); Assert.Equal(i1, i2);
        Assert.Equal(4, u1.Length);
        Assert.Equal(4, u1.Zip(i1).Distinct().Count());
        Assert.All(u1.Zip(i1), x => Assert.True(train.Contains(x.First, x.Second)));
        Assert.Equal(7, MemoryUsage.SamplePairs(train, 100, 7).Users.Length);   // all pairs when fewer than asked
    }

    [Fact]
    public void TheLogLineNamesEachMeasurement()
    {
        var line = MemoryUsage.Format(new Dictionary<string, double>
        {
            ["attention_entropy_ratio"] = 0.99995, ["attention_max"] = 0.0516, ["relation_norm"] = 0.25, ["user_item_distance"] = 0.7,
            ["relation_spread"] = 0.0005, ["grad_norm_k"] = 0.0389, ["grad_norm_m"] = double.NaN,
        });
        Assert.Equal("H/lnN 1.0000  max a 0.052  ‖r‖ 0.250  ‖p−q‖ 0.700  r spread 0.0005  ∇K 3.89e-2  ∇M –", line);
    }

    private static Split SmallSplit()
    {
        var data = SyntheticData.Generate(new SyntheticOptions { Users = 120, Items = 80, InteractionsPerUser = 15, Seed = 3 }).Data;
        return LeaveLastOut.Build(data, new LeaveLastOutOptions { SampledNegatives = 20 }, 5);
    }

    [Theory]
    [InlineData("fused")]
    [InlineData("torch")]
    public void MeasuringEveryEpochLeavesTrainingBitIdentical(string engine)
    {
        var split = SmallSplit();
        var cfg = new LrmlConfig { Dim = 8, Slots = 3, NegativeRelation = NegativeRelation.Recompute, Optimizer = OptimizerKind.LazyAdam };
        (TrainingOutcome, byte[]) Run(bool measure)
        {
            var init = LrmlParameters.Initialize(cfg, split.NumUsers, split.NumItems, 11);
            using var model = (IDisposable)Build(engine, cfg, init);
            var trainer = new Trainer(new TrainConfig { Epochs = 3, BatchSize = 64, Seed = 9, Threads = 1, Patience = 0 });
            if (measure)
            {
                var probe = new MemoryUsageProbe(split.Train, 9, pairs: 50);
                trainer.EpochDiagnostics = m => probe.Measure((IRelationalModel)m).ToDictionary();
            }
            var outcome = trainer.Fit((ITrainableRecommender)model, split.Train,
                m => Lrml.Evaluation.Evaluator.Evaluate(m, split, Lrml.Protocols.EvalTarget.Validation, new()).Metrics);
            return (outcome, ((ITrainableRecommender)model).SaveState());
        }
        var (plain, plainState) = Run(false);
        var (measured, measuredState) = Run(true);
        Assert.Equal(plainState, measuredState);
        Assert.Equal(plain.Epochs.Select(e => e.Loss), measured.Epochs.Select(e => e.Loss));
        Assert.All(plain.Epochs, e => Assert.Null(e.Diagnostics));
        Assert.All(measured.Epochs, e =>
        {
            Assert.Equal(MemoryUsage.Keys.Order(), e.Diagnostics!.Keys.Order());
            Assert.InRange(e.Diagnostics["attention_entropy_ratio"], 0, 1 + 1e-9);
            Assert.True(e.Diagnostics["grad_norm_k"] > 0);
        });
    }

    [Fact]
    public void TheEpochLogAndTheCheckpointKeepTheDiagnosticsWithNaNAsNull()
    {
        string root = Directory.CreateTempSubdirectory("lrml-mem").FullName;
        var spec = new RunSpec
        {
            Dataset = "synthetic", Model = "lrml", Settings = ConfigBinder.ParsePairs(["dim=8", "slots=3", "train_memory=false"]),
            Train = new TrainConfig { Epochs = 2, BatchSize = 512, Seed = 3, Threads = 1 },
        };
        var ctx = new ExperimentContext { Data = new DataDirectory(Path.Combine(root, "no-data")), ResultsRoot = root, KeepCheckpoints = true };
        string dir = Path.Combine(root, "run");
        var outcome = Experiment.Run(spec, ctx, dir);
        var lines = File.ReadAllLines(Path.Combine(dir, "epochs.jsonl"));
        Assert.Equal(2, lines.Length);
        var d = JsonNode.Parse(lines[1])!["diagnostics"]!.AsObject();
        Assert.Equal(MemoryUsage.Keys.Order(), d.Select(kv => kv.Key).Order());
        Assert.Null(d["grad_norm_k"]);                                     // frozen memory: not measured
        Assert.InRange((double)d["attention_entropy_ratio"]!, 0.0, 1.0 + 1e-9);
        var read = Lrml.Reproduction.Dynamics.ReadEpochs(Path.Combine(dir, "epochs.jsonl"));
        Assert.True(double.IsNaN(read[1].Diagnostics!["grad_norm_k"]));
        Assert.Equal(outcome.Training!.Epochs[1].Diagnostics!["relation_norm"], read[1].Diagnostics!["relation_norm"]);

        var ck = TrainerCheckpoint.FromBytes(File.ReadAllBytes(Path.Combine(dir, Experiment.CheckpointFile)), "test");
        Assert.Equal(outcome.Training.Epochs[1].Diagnostics!["attention_max"], ck.Epochs[1].Diagnostics!["attention_max"]);
        Assert.True(double.IsNaN(ck.Epochs[1].Diagnostics!["grad_norm_m"]));

        // a model without a memory writes no diagnostics
        Experiment.Run(spec with { Model = "bpr", Settings = ConfigBinder.ParsePairs(["dim=8"]) }, ctx, Path.Combine(root, "bpr"));
        Assert.Null(JsonNode.Parse(File.ReadAllLines(Path.Combine(root, "bpr", "epochs.jsonl"))[0])!["diagnostics"]);
    }
}
