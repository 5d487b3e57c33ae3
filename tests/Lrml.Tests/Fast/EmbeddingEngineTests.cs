using Lrml.Data;
using Lrml.Evaluation;
using Lrml.Experiments;
using Lrml.Fast;
using Lrml.Models;
using Lrml.Protocols;
using Lrml.Training;
using Lrml.Util;
using TorchSharp;
using static Lrml.Tests.Fast.FusedTestData;

namespace Lrml.Tests.Fast;

/// <summary>
/// The shared fused engine (<see cref="EmbeddingEngine"/>) against the TorchSharp reference of each model it runs (BPR-MF,
/// CML, GMF): same weights and batches → same loss and gradients (float64 reference), same parameters after several steps
/// under every optimiser, same scores (the full-ranking scorer's matrix-product form included), bit-identical resume and
/// thread counts, and comparable metrics after a short training run through the kit's Trainer.
/// </summary>
[Collection("Torch models")]
public class EmbeddingEngineTests
{
    private const int NU = 9, NI = 11;

    /// <summary>One model on both engines: torch model, its gradient and weights in the engine's layout, and the fused engine.</summary>
    private sealed record Case(string Name, Func<torch.ScalarType, ITrainableRecommender> Torch,
        Func<ITrainableRecommender, TrainingBatch, (double Loss, double[] U, double[] I, double[] D)> Grad,
        Func<ITrainableRecommender, (float[] U, float[] I, float[] D)> Weights, Func<int, EmbeddingEngine> Fused)
    {
        public override string ToString() => Name;
    }

    private static float[] Gauss(int n, double std, string stream) => TorchSupport.GaussianInit(n, std, 7, stream);
    private static double[] D(float[] a) => a.Select(x => (double)x).ToArray();

    /// <summary>Item rows with the bias appended (the engine's BPR layout).</summary>
    private static T[] WithBias<T>(T[] q, T[] b, int d) =>
        Enumerable.Range(0, b.Length).SelectMany(i => q.Skip(i * d).Take(d).Append(b[i])).ToArray();

    private static Case Bpr(BprConfig c)
    {
        int d = c.Dim;
        var p = Gauss(NU * d, 0.4, "p"); var q = Gauss(NI * d, 0.4, "q");
        float[]? b = c.ItemBias ? Gauss(NI, 0.5, "b") : null;
        return new Case($"bpr {c.Optimizer} bias={c.ItemBias} l2={c.L2}",
            dt => new BprMfModel(c, NU, NI, p, q, b, dtype: dt),
            (m, batch) =>
            {
                var g = ((BprMfModel)m).ComputeGradients(batch);
                return (g.Loss, g.P, c.ItemBias ? WithBias(g.Q, g.B, d) : g.Q, []);
            },
            m =>
            {
                var w = ((BprMfModel)m).ExportParameters();
                return (w.Users, c.ItemBias ? WithBias(w.Items, w.ItemBiases, d) : w.Items, []);
            },
            threads => EmbeddingModels.Bpr(c, NU, NI, p, q, b, threads));
    }

    /// <summary>Training positives for WARP's own negatives: user u has items u mod 11 and (3u + 1) mod 11.</summary>
    private static readonly UserItems WarpPositives = UserItems.FromLists(NI, Enumerable.Range(0, NU).Select(u => (IReadOnlyList<int>)new[] { u % NI, (3 * u + 1) % NI }.Distinct().Order().ToArray()).ToList());

    private static Case Cml(CmlConfig c)
    {
        var p = Gauss(NU * c.Dim, 0.5, "p"); var q = Gauss(NI * c.Dim, 0.5, "q");   // several rows start outside the ball
        bool warp = c.RankWeighting == CmlRankWeighting.Warp;
        return new Case($"cml {c.Optimizer} m={c.Margin}{(warp ? $" warp U={c.WarpNegatives} {c.WarpHinge}" : "")}",
            dt => new CmlModel(c, NU, NI, p, q, dtype: dt, positives: warp ? WarpPositives : null, seed: 13),
            (m, batch) => { var g = ((CmlModel)m).ComputeGradients(batch); return (g.Loss, g.P, g.Q, []); },
            m => { var w = ((CmlModel)m).ExportEmbeddings(); return (w.Users, w.Items, []); },
            threads => EmbeddingModels.Cml(c, NU, NI, p, q, threads, warp ? WarpPositives : null, seed: 13));
    }

    private static Case Gmf(GmfConfig c)
    {
        var w0 = NcfWeights.Init(NU, NI, c.Dim, null, 3);
        var w = w0 with { GmfP = w0.GmfP!.Select(x => x * 40).ToArray(), GmfQ = w0.GmfQ!.Select(x => x * 40).ToArray(), HBias = 0.3f };
        return new Case($"gmf {c.Optimizer} {c.Reduction} l2={c.L2}",
            dt => new GmfModel(c, w, dtype: dt),
            (m, batch) =>
            {
                var g = ((GmfModel)m).Core.ComputeGradients(batch);
                return (g.SummedLogLoss, g.Grads["gmf_p"], g.Grads["gmf_q"], [.. g.Grads["h"], .. g.Grads["h_bias"]]);
            },
            m => { var x = ((GmfModel)m).ExportWeights(); return (x.GmfP!, x.GmfQ!, [.. x.H, x.HBias]); },
            threads => EmbeddingModels.Gmf(c, NU, NI, w.GmfP!, w.GmfQ!, [.. w.H, w.HBias], threads));
    }

    public static TheoryData<string> Cases() => new(AllCases().Keys);

    private static Dictionary<string, Case> AllCases()
    {
        var list = new List<Case>();
        foreach (var opt in Enum.GetValues<OptimizerKind>())
        {
            list.Add(Bpr(new BprConfig { Dim = 6, Optimizer = opt, LearningRate = 0.02f, L2 = 0.05f }));
            list.Add(Bpr(new BprConfig { Dim = 9, Optimizer = opt, LearningRate = 0.02f, L2 = 0f, ItemBias = true }));
            list.Add(Cml(new CmlConfig { Dim = 6, Optimizer = opt, LearningRate = 0.02f, Margin = 0.5f }));
            list.Add(Cml(new CmlConfig { Dim = 9, Optimizer = opt, LearningRate = 0.02f, Margin = 2f }));
            // WARP: the kernel's own U negatives (same sampler, stream and order as torch), rank weight, closest or batch hinge
            list.Add(Cml(new CmlConfig { Dim = 6, Optimizer = opt, LearningRate = 0.02f, Margin = 1f, RankWeighting = CmlRankWeighting.Warp, WarpNegatives = 5 }));
            list.Add(Cml(new CmlConfig { Dim = 9, Optimizer = opt, LearningRate = 0.02f, Margin = 1.5f, RankWeighting = CmlRankWeighting.Warp, WarpNegatives = 3, WarpHinge = CmlWarpHinge.Batch }));
            if (opt == OptimizerKind.LazyAdam) continue;   // GMF's TorchSharp model has no lazy-adam (NcfEngineTests checks the fused one by hand)
            list.Add(Gmf(new GmfConfig { Dim = 6, Optimizer = opt, LearningRate = 0.02f }));
            list.Add(Gmf(new GmfConfig { Dim = 9, Optimizer = opt, LearningRate = 0.02f, L2 = 0.1f, Reduction = LossReduction.Sum }));
        }
        list.Add(Bpr(new BprConfig { Dim = 5, L2 = 0.3f, ItemBias = true }));
        return list.ToDictionary(c => c.Name);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void LossAndGradientsMatchTorchFloat64(string name)
    {
        var c = AllCases()[name];
        using var torchModel = c.Torch(torch.ScalarType.Float64);
        using var fused = c.Fused(2);
        foreach (int k in new[] { 1, 3 })
        {
            var batch = Batch(k, seed: 9 + k, users: NU, items: NI, count: 8);
            var t = c.Grad(torchModel, batch);
            var f = fused.ComputeGradient(batch);
            Assert.True(Math.Abs(t.Loss - f.Loss) <= 1e-5 * Math.Abs(t.Loss) + 1e-6, $"k={k}: loss torch {t.Loss:R}, fused {f.Loss:R}");
            Assert.True(t.U.Any(x => x != 0) && t.I.Any(x => x != 0), "the case must have non-zero gradients");
            Close(f.Users, t.U, 1e-6, 1e-4, $"k={k} dUsers"); Close(f.Items, t.I, 1e-6, 1e-4, $"k={k} dItems");
            Close(f.Dense, t.D, 1e-6, 1e-4, $"k={k} dDense");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void TrainingStepsMatchTorch(string name)
    {
        var c = AllCases()[name];
        using var torchModel = c.Torch(torch.ScalarType.Float32);
        using var fused = c.Fused(2);
        var start = fused.Export();
        for (int s = 0; s < 6; s++)
        {
            var batch = Batch(2, seed: 50 + s, users: NU, items: NI, count: 8);
            double lt = torchModel.TrainStep(batch), lf = fused.TrainStep(batch);
            Assert.True(Math.Abs(lt - lf) <= 1e-4 * Math.Abs(lt) + 1e-5, $"step {s}: torch loss {lt:R}, fused {lf:R}");
        }
        var a = c.Weights(torchModel); var b = fused.Export();
        Close(b.Users, D(a.U), 5e-5, 1e-3, "users"); Close(b.Items, D(a.I), 5e-5, 1e-3, "items"); Close(b.Dense, D(a.D), 5e-5, 1e-3, "dense");
        Assert.NotEqual(start.Users, b.Users);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ScoresMatchTorchWithTheSameRanking(string name)
    {
        var c = AllCases()[name];
        using var torchModel = c.Torch(torch.ScalarType.Float64);
        using var fused = c.Fused(2);
        int[] users = Enumerable.Range(0, NU).ToArray();
        var ta = new float[NU * NI]; var fa = new float[NU * NI];
        torchModel.ScoreAllItems(users, ta); fused.ScoreAllItems(users, fa);
        Close(fa, D(ta), 1e-5, 1e-5, "ScoreAllItems");
        for (int u = 0; u < NU; u++)
            Assert.Equal(Ranking(ta, u), Ranking(fa, u));
        var pu = users.SelectMany(u => Enumerable.Repeat(u, NI)).ToArray();
        var pi = users.SelectMany(_ => Enumerable.Range(0, NI)).ToArray();
        var tp = new float[pu.Length]; var fp = new float[pu.Length];
        torchModel.ScorePairs(pu, pi, tp); fused.ScorePairs(pu, pi, fp);
        Close(fp, D(tp), 1e-6, 1e-5, "ScorePairs");
    }

    private static int[] Ranking(float[] s, int u) => Enumerable.Range(0, NI).OrderByDescending(i => s[u * NI + i]).ToArray();

    [Fact]
    public void FullRankingOfManyItemsEqualsTheDirectDistance()
    {
        // more items than one 256-item segment and more users than one 16-user block: every tile edge is crossed
        var c = new CmlConfig { Dim = 13 };
        using var fused = EmbeddingModels.Cml(c, 37, 600, seed: 4, threads: 2);
        int[] users = Enumerable.Range(0, 37).Reverse().ToArray();
        var all = new float[37 * 600];
        fused.ScoreAllItems(users, all);
        var pu = users.SelectMany(u => Enumerable.Repeat(u, 600)).ToArray();
        var pi = users.SelectMany(_ => Enumerable.Range(0, 600)).ToArray();
        var direct = new float[pu.Length];
        fused.ScorePairs(pu, pi, direct);
        Close(all, D(direct), 2e-6, 1e-5, "expanded vs direct distance");
    }

    [Theory]
    [InlineData("bpr")]
    [InlineData("cml")]
    [InlineData("cml-warp")]   // the sampler's state travels with the checkpoint
    [InlineData("gmf")]
    public void ResumeAndThreadCountAreBitIdentical(string model)
    {
        var c = model switch
        {
            "bpr" => Bpr(new BprConfig { Dim = 9, LearningRate = 0.02f, ItemBias = true }),
            "cml" => Cml(new CmlConfig { Dim = 9, LearningRate = 0.02f }),
            "cml-warp" => Cml(new CmlConfig { Dim = 9, LearningRate = 0.02f, Margin = 1f, RankWeighting = CmlRankWeighting.Warp, WarpNegatives = 4 }),
            _ => Gmf(new GmfConfig { Dim = 9, LearningRate = 0.02f }),
        };
        using var a = c.Fused(1);
        using var b = c.Fused(2);
        for (int s = 0; s < 3; s++) { var batch = Batch(3, seed: s, users: NU, items: NI, count: 150); a.TrainStep(batch); b.TrainStep(batch); }
        using var resumed = c.Fused(2);
        resumed.LoadState(b.SaveState());
        for (int s = 3; s < 6; s++)
        {
            var batch = Batch(3, seed: s, users: NU, items: NI, count: 150);
            double la = a.TrainStep(batch), lb = b.TrainStep(batch), lr = resumed.TrainStep(batch);
            Assert.Equal(la, lb); Assert.Equal(lb, lr);
        }
        Assert.Equal(a.SaveState(), b.SaveState());
        Assert.Equal(b.SaveState(), resumed.SaveState());
        var bad = b.SaveState()[..^4];
        Assert.Throws<DataFormatException>(() => resumed.LoadState(bad));
    }

    [Theory]
    [InlineData("bpr", 0.005)]
    [InlineData("cml", 0.01)]
    [InlineData("gmf", 0.005)]
    [InlineData("cml", 0.01, "rank_weighting=warp")]
    public void MetricsAfterTrainingMatchTorch(string model, double lr, string? setting = null)
    {
        var ds = SyntheticData.Generate(new SyntheticOptions { Users = 200, Items = 150, Seed = 3 });
        var split = LeaveLastOut.Build(ds.Data, seed: 1);
        int nu = split.NumUsers, ni = split.NumItems;
        var settings = new[] { new KeyValuePair<string, string>("dim", "16"), new("learning_rate", lr.ToString(System.Globalization.CultureInfo.InvariantCulture)) }
            .Concat(setting is null ? [] : ConfigBinder.ParsePairs([setting])).ToArray();
        BuiltModel Build(string engine) => ModelRegistry.Build(model, new ModelBuildContext
        {
            NumUsers = nu, NumItems = ni, Train = split.Train, Seed = 5, Threads = 2, Settings = settings, Engine = engine,
        });
        TestSetup.RegisterEngines();
        var train = new TrainConfig { Epochs = 6, BatchSize = 128, NegativesPerPositive = 2, EvalEvery = 0, Seed = 2, Threads = 2 };
        using var torchModel = (ITrainableRecommender)Build("torch").Model;
        using var fused = (ITrainableRecommender)Build("fused").Model;
        Assert.IsType<EmbeddingEngine>(fused);
        FusedTrainingParityTests.AssertSameTraining(torchModel, fused, split, train);
    }

    [Fact]
    public void FusedIsTheCpuDefaultWhereItImplementsTheSettingsAndTheIdentityNamesIt()
    {
        TestSetup.RegisterEngines();
        var warp = new[] { new KeyValuePair<string, string>("rank_weighting", "warp") };
        var covariance = new[] { new KeyValuePair<string, string>("covariance_weight", "0.1") };
        Assert.Equal("fused", ModelRegistry.DefaultEngine("bpr", [], "cpu"));
        Assert.Equal("fused", ModelRegistry.DefaultEngine("gmf", [], "cpu"));
        Assert.Equal("fused", ModelRegistry.DefaultEngine("cml", [], "cpu"));
        Assert.Equal("fused", ModelRegistry.DefaultEngine("cml", warp, "cpu"));    // WARP draws its own negatives in the kernel
        Assert.Null(ModelRegistry.DefaultEngine("cml", covariance, "cpu"));        // not implemented there: torch stays the default
        Assert.Null(ModelRegistry.DefaultEngine("bpr", [], "cuda"));
        Assert.Null(ModelRegistry.DefaultEngine("lrml", [], "cpu"));           // LRML's fused default predates this: identities unchanged
        var split = LeaveLastOut.Build(SyntheticData.Generate(new SyntheticOptions { Users = 20, Items = 15, Seed = 3 }).Data, seed: 1);
        var ctx = new ModelBuildContext { NumUsers = split.NumUsers, NumItems = split.NumItems, Train = split.Train, Seed = 1, Threads = 1 };
        var built = ModelRegistry.Build("bpr", ctx);
        using (built.Model) { Assert.Equal("fused", built.Engine); Assert.Equal("fused", built.Config["engine"]!.GetValue<string>()); }
        using (var warpBuilt = ModelRegistry.Build("cml", new ModelBuildContext { NumUsers = ctx.NumUsers, NumItems = ctx.NumItems, Train = ctx.Train, Seed = 1, Threads = 1, Settings = warp }).Model)
            Assert.IsType<EmbeddingEngine>(warpBuilt);
        using (var torchBuilt = ModelRegistry.Build("cml", new ModelBuildContext { NumUsers = ctx.NumUsers, NumItems = ctx.NumItems, Train = ctx.Train, Seed = 1, Threads = 1, Settings = covariance }).Model)
            Assert.IsType<CmlModel>(torchBuilt);
        var e = Assert.Throws<ArgumentException>(() => ModelRegistry.Build("cml", new ModelBuildContext
        {
            NumUsers = ctx.NumUsers, NumItems = ctx.NumItems, Train = ctx.Train, Seed = 1, Threads = 1, Settings = covariance, Engine = "fused",
        }));
        Assert.Contains("--engine torch", e.Message);
    }
}
