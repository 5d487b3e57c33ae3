using Lrml.Models;
using Lrml.Fast;
using Lrml.Protocols;
using TorchSharp;
using static Lrml.Tests.Fast.FusedTestData;

using Lrml.Tests.Models;

namespace Lrml.Tests.Fast;

/// <summary>
/// The options that let LRML's memory be used — memory_init_scale, attention_temperature, memory_learning_rate and
/// rank_weighting=warp — in both engines: forward, loss and gradients against the scalar double reference (itself checked
/// against central finite differences), fused against torch (float64 gradients, float32 training steps, scores and
/// explanations), hand-computed optimiser updates, and that the defaults are exactly the previous behaviour.
/// </summary>
[Collection("Torch models")]
public class MemoryOptionTests
{
    /// <summary>Training interactions over the test shape: every user has items 0 and 1, so WARP draws among 2..6.</summary>
    private static UserItems Positives(int users = FusedTestData.Users, int items = FusedTestData.Items) =>
        UserItems.FromPairs(users, items, Enumerable.Range(0, users).SelectMany(u => new[] { u, u }).ToArray(),
            Enumerable.Range(0, users).SelectMany(_ => new[] { 0, 1 }).ToArray());

    public static TheoryData<float, bool, NegativeRelation, NormConstraint, LrmlDistance> Cases()
    {
        var data = new TheoryData<float, bool, NegativeRelation, NormConstraint, LrmlDistance>();
        foreach (var rel in Enum.GetValues<NegativeRelation>())
        {
            data.Add(0.3f, false, rel, NormConstraint.Clip, LrmlDistance.SqrtL2);
            data.Add(1f, true, rel, NormConstraint.Clip, LrmlDistance.SqrtL2);
            data.Add(0.25f, true, rel, NormConstraint.None, LrmlDistance.SquaredL2);
            data.Add(2.5f, true, rel, NormConstraint.Clip, LrmlDistance.L1);
        }
        return data;
    }

    private static LrmlConfig Cfg(float tau, bool warp, NegativeRelation rel, NormConstraint nc, LrmlDistance dist) =>
        Config(dist, rel, nc) with
        {
            AttentionTemperature = tau, RankWeighting = warp ? LrmlRankWeighting.Warp : LrmlRankWeighting.None, WarpNegatives = 4,
            Margin = 0.6f,
        };

    [Theory]
    [MemberData(nameof(Cases))]
    public void FusedLossAndGradientsMatchTheScalarReference(float tau, bool warp, NegativeRelation rel, NormConstraint nc, LrmlDistance dist)
    {
        var cfg = Cfg(tau, warp, rel, nc, dist);
        var p = Params(cfg);
        var batch = Batch(2);
        using var engine = new LrmlFused(cfg, p, new FusedOptions { Threads = 2, ChunkSize = 4 }, Positives(), seed: 3);
        var got = engine.ComputeGradient(batch);
        var (u, pos, neg) = Arrays(batch);
        var reference = new LrmlScalarReference(cfg, p);
        double[]? w = null;
        if (warp)
        {
            var drawn = engine.LastWarpNegatives!;
            Assert.Equal(batch.Count * 4, drawn.Length);
            for (int x = 0; x < drawn.Length; x++) Assert.InRange(drawn[x], 2, FusedTestData.Items - 1);   // never a training item
            w = reference.WarpWeights(u, pos, drawn, 4);
            Assert.Contains(w, x => x > 0);
        }
        var r = reference.LossAndGrad(u, pos, neg, 2, l2TouchedOnly: true, weights: w);
        Assert.True(r.Loss > 0, "the test batch must have active hinges");
        Assert.Equal(r.Loss, got.Loss, 1e-4 * Math.Max(1, r.Loss));
        Close(got.P, r.P, 2e-5, 2e-4, "dP"); Close(got.Q, r.Q, 2e-5, 2e-4, "dQ");
        Close(got.K, r.K, 2e-5, 2e-4, "dK"); Close(got.M, r.M, 2e-5, 2e-4, "dM");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ReferenceGradientsMatchCentralFiniteDifferences(float tau, bool warp, NegativeRelation rel, NormConstraint nc, LrmlDistance dist)
    {
        var cfg = Cfg(tau, warp, rel, nc, dist) with { L2 = 0.1f };
        var p = Params(cfg);
        var (u, pos, neg) = Arrays(Batch(2));
        var reference = new LrmlScalarReference(cfg, p);
        // WARP weights are piecewise constant (no gradient flows through them): held fixed at their value here
        double[]? w = warp ? reference.WarpWeights(u, pos, [2, 3, 4, 5, 6, 2, 3, 4, 5, 6, 2, 3, 4, 5, 6, 2, 3, 4, 5, 6, 2, 3, 4, 5], 4) : null;
        var g = reference.LossAndGrad(u, pos, neg, 2, false, weights: w);
        const double h = 1e-6;
        foreach (var (name, tensor, grad) in new[] { ("P", reference.P, g.P), ("Q", reference.Q, g.Q), ("K", reference.K, g.K), ("M", reference.M, g.M) })
            for (int x = 0; x < tensor.Length; x++)
            {
                double keep = tensor[x];
                tensor[x] = keep + h; double lp = reference.Loss(u, pos, neg, 2, false, w);
                tensor[x] = keep - h; double lm = reference.Loss(u, pos, neg, 2, false, w);
                tensor[x] = keep;
                double fd = (lp - lm) / (2 * h);
                Assert.True(Math.Abs(fd - grad[x]) <= 1e-5 + 1e-5 * Math.Abs(fd), $"d{name}[{x}]: analytic {grad[x]:R}, finite difference {fd:R}");
            }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void FusedMatchesTorchLossAndGradients(float tau, bool warp, NegativeRelation rel, NormConstraint nc, LrmlDistance dist)
    {
        var cfg = Cfg(tau, warp, rel, nc, dist) with { L2 = 0.2f, Optimizer = OptimizerKind.Adam };
        var p = Params(cfg);
        var batch = Batch(2);
        using var torchModel = new LrmlModel(cfg, p, dtype: torch.ScalarType.Float64, positives: Positives(), seed: 3);
        var (loss, gp, gq, gk, gm) = torchModel.ComputeGradients(batch);
        using var fused = new LrmlFused(cfg, p, new FusedOptions { Threads = 2 }, Positives(), seed: 3);
        var g = fused.ComputeGradient(batch);
        if (warp) Assert.Equal(torchModel.LastWarpNegatives, fused.LastWarpNegatives);
        Assert.Equal(loss, g.Loss, 1e-4 * Math.Abs(loss));
        Close(g.P, gp, 2e-5, 1e-4, "dP"); Close(g.Q, gq, 2e-5, 1e-4, "dQ");
        Close(g.K, gk, 2e-5, 1e-4, "dK"); Close(g.M, gm, 2e-5, 1e-4, "dM");
    }

    public static TheoryData<OptimizerKind, NegativeRelation, bool> StepCases()
    {
        var data = new TheoryData<OptimizerKind, NegativeRelation, bool>();
        // Recomputed relations with a sharp attention (τ = 0.2) and a fast memory only under SGD: Adam and Adagrad normalise
        // each element's step, so a float32 rounding in a near-zero gradient element of the torch engine becomes a whole
        // lr-sized step within a few steps (the single-step gradients of those cases are compared in float64 above)
        foreach (var opt in Enum.GetValues<OptimizerKind>())
            data.Add(opt, NegativeRelation.Reuse, opt != OptimizerKind.Sgd);
        data.Add(OptimizerKind.Sgd, NegativeRelation.Recompute, true);
        data.Add(OptimizerKind.Sgd, NegativeRelation.Recompute, false);
        return data;
    }

    [Theory]
    [MemberData(nameof(StepCases))]
    public void TrainingStepsWithEveryOptionMatchTorch(OptimizerKind opt, NegativeRelation rel, bool warp)
    {
        var cfg = Config(rel: rel, opt: opt, dim: 19, slots: 7) with
        {
            LearningRate = 2e-3f, MemoryLearningRate = 2e-2f, AttentionTemperature = 0.2f, Margin = 2f, WarpNegatives = 3,
            RankWeighting = warp ? LrmlRankWeighting.Warp : LrmlRankWeighting.None,
        };
        var p = Params(cfg, users: 9, items: 11);
        var positives = Positives(9, 11);
        using var torchModel = new LrmlModel(cfg, p, positives: positives, seed: 4);
        using var fused = new LrmlFused(cfg, p, new FusedOptions { Threads = 2, ChunkSize = 3 }, positives, seed: 4);
        SameSixSteps(torchModel, fused);
    }

    [Theory]
    [InlineData("fused")]
    [InlineData("torch")]
    public void TheMemoryLearningRateMovesKAndMAndOnlyThem(string engine)
    {
        // SGD: θ ← θ − lr·g, so one step shows the rate of each tensor exactly
        var cfg = Config(opt: OptimizerKind.Sgd) with { LearningRate = 0.01f, MemoryLearningRate = 0.25f };
        var p = Params(cfg);
        var batch = Batch(2);
        var (u, pos, neg) = Arrays(batch);
        var g = new LrmlScalarReference(cfg, p).LossAndGrad(u, pos, neg, 2, false);
        using var model = (IDisposable)(engine == "fused" ? new LrmlFused(cfg, p) : new LrmlModel(cfg, p, dtype: torch.ScalarType.Float64));
        ((ITrainableRecommender)model).TrainStep(batch);
        var after = ((IRelationalModel)model).ExportParameters();
        Close(after.P, p.P.Select((x, i) => x - 0.01 * g.P[i]).ToArray(), 1e-6, 1e-5, "P");
        Close(after.Q, p.Q.Select((x, i) => x - 0.01 * g.Q[i]).ToArray(), 1e-6, 1e-5, "Q");
        Close(after.K, p.K.Select((x, i) => x - 0.25 * g.K[i]).ToArray(), 1e-5, 1e-5, "K");
        Close(after.M, p.M.Select((x, i) => x - 0.25 * g.M[i]).ToArray(), 1e-5, 1e-5, "M");
        Assert.Contains(g.K, x => Math.Abs(x) > 1e-3);
    }

    [Fact]
    public void TheMemoryInitScaleScalesKAndMAndLeavesTheEmbeddings()
    {
        var plain = new LrmlConfig { Dim = 6, Slots = 3, InitScale = 0.1f };
        var a = LrmlParameters.Initialize(plain, 4, 5, 7);
        var b = LrmlParameters.Initialize(plain with { MemoryInitScale = 2.5f }, 4, 5, 7);
        Assert.Equal(a.P, b.P);
        Assert.Equal(a.Q, b.Q);
        for (int x = 0; x < a.K.Length; x++) Assert.Equal(a.K[x] * 25.0, b.K[x], 1e-5 * Math.Abs(b.K[x]) + 1e-7);
        for (int x = 0; x < a.M.Length; x++) Assert.Equal(a.M[x] * 25.0, b.M[x], 1e-5 * Math.Abs(b.M[x]) + 1e-7);
        // the default follows init_scale
        var c = LrmlParameters.Initialize(plain with { InitScale = 0.3f }, 4, 5, 7);
        for (int x = 0; x < a.K.Length; x++) Assert.Equal(a.K[x] * 3.0, c.K[x], 1e-5 * Math.Abs(c.K[x]) + 1e-7);
    }

    [Theory]
    [InlineData(LrmlDistance.SqrtL2, NormConstraint.Clip)]
    [InlineData(LrmlDistance.L1, NormConstraint.None)]
    public void ScoresAndExplanationsWithATemperatureMatchTorch(LrmlDistance dist, NormConstraint nc)
    {
        var cfg = Config(dist, nc: nc, dim: 19, slots: 7) with { AttentionTemperature = 0.05f };
        var p = Params(cfg, users: 9, items: 37);
        using var torchModel = new LrmlModel(cfg, p, dtype: torch.ScalarType.Float64);
        using var fused = new LrmlFused(cfg, p, new FusedOptions { Threads = 2 });
        int[] users = [0, 3, 8];
        var ta = new float[3 * 37]; var fa = new float[3 * 37];
        torchModel.ScoreAllItems(users, ta); fused.ScoreAllItems(users, fa);
        Close(fa, ta.Select(x => (double)x).ToArray(), 2e-5, 1e-4, "ScoreAllItems");
        var pu = users.SelectMany(u => Enumerable.Repeat(u, 37)).ToArray();
        var pi = users.SelectMany(_ => Enumerable.Range(0, 37)).ToArray();
        var tat = new float[pu.Length * 7]; var trel = new float[pu.Length * 19];
        var fat = new float[pu.Length * 7]; var frel = new float[pu.Length * 19];
        torchModel.Explain(pu, pi, tat, trel); fused.Explain(pu, pi, fat, frel);
        Close(fat, tat.Select(x => (double)x).ToArray(), 1e-5, 1e-4, "attention");
        Close(frel, trel.Select(x => (double)x).ToArray(), 1e-5, 1e-4, "relation");
        // the temperature sharpens the attention: the reference at τ = 1 is flatter
        var reference = new LrmlScalarReference(cfg, p);
        var warm = new LrmlScalarReference(cfg with { AttentionTemperature = 1f }, p);
        Assert.True(reference.Explain(3, 5).a.Max() > warm.Explain(3, 5).a.Max());
        Assert.Equal(reference.Explain(3, 5).a[2], fat[(37 + 5) * 7 + 2], 1e-5);
    }

    [Theory]
    [InlineData("fused")]
    [InlineData("torch")]
    public void WarpWeightsFollowTheImpostorCount(string engine)
    {
        // users 0, 1 and their training items 0, 1 sit at the origin and M = 0 (r = 0): D(u, i⁺) = √ε; the sampled negatives
        // 2..6 sit at distance ≈ 0.99. The trainer's negatives equal the positives, so every hinge term is exactly the margin.
        // A margin of 50 makes all U sampled negatives impostors: w = log(1 + J); a margin of 0.1 none: w = 0.
        foreach (var (margin, w) in new[] { (50f, Math.Log(1 + FusedTestData.Items)), (0.1f, 0.0) })
        {
            var cfg = Config() with { Margin = margin, RankWeighting = LrmlRankWeighting.Warp, WarpNegatives = 5 };
            var p = Params(cfg);
            Array.Clear(p.M);
            Array.Clear(p.P, 0, 2 * cfg.Dim);
            Array.Clear(p.Q);
            for (int i = 2; i < FusedTestData.Items; i++) p.Q[i * cfg.Dim] = 0.99f;
            var batch = ModelTestSupport.Batch([0, 1], [0, 1], [0, 0, 1, 1]);
            using var model = (IDisposable)(engine == "fused"
                ? new LrmlFused(cfg, p, null, Positives(), 3)
                : new LrmlModel(cfg, p, dtype: torch.ScalarType.Float64, positives: Positives(), seed: 3));
            double loss = engine == "fused" ? ((LrmlFused)model).ComputeGradient(batch).Loss : ((LrmlModel)model).ComputeGradients(batch).Loss;
            Assert.Equal(w * 2 * 2 * margin, loss, 1e-4 * Math.Max(1, loss));   // 2 positives × 2 hinge terms × margin, weighted
        }
    }

    [Theory]
    [InlineData("fused")]
    [InlineData("torch")]
    public void WarpSamplingIsPartOfTheStateAndDiagnosticsDoNotAdvanceIt(string engine)
    {
        var cfg = Config(opt: OptimizerKind.Adam) with { RankWeighting = LrmlRankWeighting.Warp, WarpNegatives = 3 };
        var p = Params(cfg);
        ITrainableRecommender Make() => engine == "fused"
            ? new LrmlFused(cfg, p, null, Positives(), 5)
            : new LrmlModel(cfg, p, positives: Positives(), seed: 5);
        int[]? Drawn(ITrainableRecommender m) => m is LrmlFused f ? f.LastWarpNegatives : ((LrmlModel)m).LastWarpNegatives;
        using var a = Make();
        a.TrainStep(Batch(2, seed: 1));
        var saved = a.SaveState();
        // a gradient call draws from a copy: the next step sees the same negatives with or without it
        if (a is LrmlFused fa) fa.ComputeGradient(Batch(2, seed: 2)); else ((LrmlModel)a).ComputeGradients(Batch(2, seed: 2));
        a.TrainStep(Batch(2, seed: 3));
        var afterA = Drawn(a)!;
        using var b = Make();
        b.LoadState(saved);
        b.TrainStep(Batch(2, seed: 3));
        Assert.Equal(afterA, Drawn(b));
        Assert.Equal(a.SaveState(), b.SaveState());
        using var c = Make();
        c.TrainStep(Batch(2, seed: 3));
        Assert.NotEqual(afterA, Drawn(c));   // a fresh stream draws other negatives
    }

    [Theory]
    [InlineData("fused")]
    [InlineData("torch")]
    public void ExplicitDefaultsTrainBitIdenticallyToThePlainConfig(string engine)
    {
        var plain = Config(opt: OptimizerKind.Adam) with { LearningRate = 0.01f, InitScale = 0.2f };
        var explicitly = plain with { MemoryInitScale = 0.2f, MemoryLearningRate = 0.01f, AttentionTemperature = 1f, RankWeighting = LrmlRankWeighting.None };
        byte[] Run(LrmlConfig cfg)
        {
            var p = LrmlParameters.Initialize(cfg, FusedTestData.Users, FusedTestData.Items, 3);
            using var m = (IDisposable)(engine == "fused" ? new LrmlFused(cfg, p) : new LrmlModel(cfg, p));
            for (int t = 0; t < 3; t++) ((ITrainableRecommender)m).TrainStep(Batch(2, seed: t));
            return ((ITrainableRecommender)m).SaveState();
        }
        Assert.Equal(Run(plain), Run(explicitly));
        Assert.Equal(plain.Resolved(), explicitly.Resolved());
    }

    [Fact]
    public void WarpNeedsThePositivesAndInvalidValuesAreRejected()
    {
        var cfg = Config() with { RankWeighting = LrmlRankWeighting.Warp };
        var p = Params(cfg);
        Assert.Contains("training positives", Assert.Throws<ArgumentException>(() => new LrmlFused(cfg, p)).Message);
        Assert.Contains("training positives", Assert.Throws<ArgumentException>(() => new LrmlModel(cfg, p)).Message);
        Assert.Contains("AttentionTemperature", Assert.Throws<ArgumentException>(() => (Config() with { AttentionTemperature = 0f }).Validate()).Message);
        Assert.Contains("MemoryLearningRate", Assert.Throws<ArgumentException>(() => (Config() with { MemoryLearningRate = -1f }).Validate()).Message);
        Assert.Contains("MemoryInitScale", Assert.Throws<ArgumentException>(() => (Config() with { MemoryInitScale = 0f }).Validate()).Message);
        Assert.Contains("WarpNegatives", Assert.Throws<ArgumentException>(() => (Config() with { WarpNegatives = 0 }).Validate()).Message);
    }
}
