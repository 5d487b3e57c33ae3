using Lrml.Data;
using Lrml.Models;
using Lrml.Fast;
using static Lrml.Tests.Fast.FusedTestData;

namespace Lrml.Tests.Fast;

/// <summary>Determinism, state round trip, parameter export, description and allocation-free steps.</summary>
public class FusedStateTests
{
    private static float[] Flat(LrmlParameters p) => [.. p.P, .. p.Q, .. p.K, .. p.M];

    private static LrmlParameters Train(LrmlConfig cfg, int threads, int steps, int chunk = 2, long seed = 3)
    {
        using var engine = new LrmlFused(cfg, Params(cfg, seed: seed, users: 9, items: 11), new FusedOptions { Threads = threads, ChunkSize = chunk });
        for (int t = 0; t < steps; t++) engine.TrainStep(Batch(2, seed: 100 + t, users: 9, items: 11, count: 7));
        return engine.ExportParameters();
    }

    [Theory]
    [InlineData(OptimizerKind.LazyAdam, NegativeRelation.Reuse)]
    [InlineData(OptimizerKind.Adam, NegativeRelation.Recompute)]
    [InlineData(OptimizerKind.Adagrad, NegativeRelation.Reuse)]
    public void SameSeedIsBitIdenticalForEveryThreadCount(OptimizerKind opt, NegativeRelation rel)
    {
        var cfg = Config(rel: rel, opt: opt, l2: 0.05f, dim: 19, slots: 7) with { GradClipValue = 1f, GradClipNorm = 2f };
        var one = Flat(Train(cfg, 1, 6));
        Assert.Equal(one, Flat(Train(cfg, 1, 6)));
        Assert.Equal(one, Flat(Train(cfg, 2, 6)));
        Assert.Equal(one, Flat(Train(cfg, 3, 6)));
        Assert.NotEqual(one, Flat(Train(cfg, 2, 6, seed: 4)));
    }

    [Theory]
    [InlineData(OptimizerKind.LazyAdam)]
    [InlineData(OptimizerKind.Adam)]
    [InlineData(OptimizerKind.Sgd)]
    [InlineData(OptimizerKind.Adagrad)]
    public void SaveStateLoadStateResumesBitIdentically(OptimizerKind opt)
    {
        var cfg = Config(opt: opt, dim: 19, slots: 7);
        var p = Params(cfg, users: 9, items: 11);
        using var a = new LrmlFused(cfg, p, new FusedOptions { Threads = 2 });
        for (int t = 0; t < 3; t++) a.TrainStep(Batch(2, seed: t, users: 9, items: 11));
        byte[] state = a.SaveState();
        for (int t = 3; t < 5; t++) a.TrainStep(Batch(2, seed: t, users: 9, items: 11));

        using var b = new LrmlFused(cfg, LrmlParameters.Initialize(cfg, 9, 11, seed: 999), new FusedOptions { Threads = 1 });
        b.LoadState(state);
        Assert.Equal(3, b.StepCount);
        Assert.Equal(state, b.SaveState());
        for (int t = 3; t < 5; t++) b.TrainStep(Batch(2, seed: t, users: 9, items: 11));
        Assert.Equal(Flat(a.ExportParameters()), Flat(b.ExportParameters()));
        Assert.Equal(a.SaveState(), b.SaveState());
    }

    [Fact]
    public void LoadStateRejectsForeignBytes()
    {
        var cfg = Config();
        using var engine = Engine(cfg, Params(cfg));
        var good = engine.SaveState();
        Assert.Throws<DataFormatException>(() => engine.LoadState(new byte[10]));
        Assert.Throws<DataFormatException>(() => engine.LoadState(good[..^4]));
        using var other = new LrmlFused(cfg, LrmlParameters.Initialize(cfg, Users + 1, Items, 1));
        var e = Assert.Throws<DataFormatException>(() => other.LoadState(good));
        Assert.Contains("shape", e.Message);
        using var sgd = new LrmlFused(cfg with { Optimizer = OptimizerKind.Sgd }, Params(cfg));
        Assert.Throws<DataFormatException>(() => sgd.LoadState(good));
    }

    [Fact]
    public void ExportReturnsTheInitialParametersExactly()
    {
        var cfg = Config(dim: 19, slots: 7);
        var p = LrmlParameters.Initialize(cfg, 9, 11, seed: 42);
        using var engine = new LrmlFused(cfg, p);
        var e = engine.ExportParameters();
        Assert.Equal(p.P, e.P); Assert.Equal(p.Q, e.Q); Assert.Equal(p.K, e.K); Assert.Equal(p.M, e.M);
        using var created = LrmlFused.Create(cfg, 9, 11, seed: 42);
        Assert.Equal(Flat(p), Flat(created.ExportParameters()));
    }

    [Fact]
    public void DescribeNamesEveryConfigFieldTheEngineAndTheOptimiserSemantics()
    {
        var cfg = Config(opt: OptimizerKind.LazyAdam);
        using var engine = Engine(cfg, Params(cfg), threads: 2);
        var d = engine.Describe();
        foreach (var prop in typeof(LrmlConfig).GetProperties().Where(p => p.CanWrite))   // settings, not derived values
        {
            Assert.True(d.ContainsKey(prop.Name), $"Describe lacks {prop.Name}");
            Assert.Equal(prop.GetValue(cfg.Resolved())!.ToString(), d[prop.Name]!.ToString());   // settings that follow another one (memory_learning_rate, memory_init_scale) are described resolved
        }
        Assert.Equal("fused", d["Engine"]);
        Assert.Equal(2, d["Threads"]);
        Assert.Contains("row-sparse", (string)d["OptimizerSemantics"]!);
        using var dense = Engine(cfg with { Optimizer = OptimizerKind.Adam }, Params(cfg));
        Assert.Contains("dense", (string)dense.Describe()["OptimizerSemantics"]!);
    }

    [Theory]
    [InlineData(OptimizerKind.LazyAdam, 1)]
    [InlineData(OptimizerKind.Adam, 2)]
    public void TrainingStepsDoNotAllocateOnceWarm(OptimizerKind opt, int threads)
    {
        var cfg = Config(opt: opt, l2: 0.1f, dim: 19, slots: 7) with { GradClipNorm = 1f, GradClipValue = 1f };
        using var engine = new LrmlFused(cfg, Params(cfg, users: 9, items: 11), new FusedOptions { Threads = threads, ChunkSize = 2 });
        var batches = Enumerable.Range(0, 4).Select(t => Batch(2, seed: t, users: 9, items: 11)).ToArray();
        foreach (var b in batches) engine.TrainStep(b);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int r = 0; r < 5; r++) foreach (var b in batches) engine.TrainStep(b);
        long after = GC.GetAllocatedBytesForCurrentThread();
        Assert.Equal(0, after - before);
    }
}
