using Lrml.Data;
using Lrml.Fast;
using Lrml.Models;
using Lrml.Protocols;
using Lrml.Training;
using Lrml.Util;
using TorchSharp;
using static Lrml.Tests.Fast.FusedTestData;

namespace Lrml.Tests.Fast;

/// <summary>
/// MLP and NeuMF on the shared fused engine (<see cref="NcfKernel"/>, chunk-wise GEMMs) against the TorchSharp NcfCore:
/// same weights and batches → same loss and every gradient (float64 reference) for every option, the same parameters
/// after several steps under each optimiser, the same scores (full ranking through the split first layer included),
/// bit-identical resume and thread counts, and comparable metrics after a short training run.
/// </summary>
[Collection("Torch models")]
public class NcfEngineTests
{
    private const int NU = 9, NI = 11;

    /// <summary>One NCF setting: gmf dim (0 = MLP), layers, optimiser, L2, reduction.</summary>
    public sealed record Setting(int Dim, int[] Layers, OptimizerKind Opt, float L2, LossReduction Reduction)
    {
        public override string ToString() => $"{(Dim == 0 ? "mlp" : $"neumf d={Dim}")} [{string.Join(",", Layers)}] {Opt} l2={L2} {Reduction}";
    }

    public static TheoryData<string> Settings() => new(AllSettings().Keys);

    private static Dictionary<string, Setting> AllSettings()
    {
        var data = new List<Setting>();
        foreach (var opt in new[] { OptimizerKind.Adam, OptimizerKind.Sgd, OptimizerKind.Adagrad })
        {
            data.Add(new(0, [8, 6, 4], opt, 0f, LossReduction.Mean));               // several hidden layers
            data.Add(new(0, [20, 9], opt, 0.1f, LossReduction.Sum));                // one hidden layer, widths off the vector width
            data.Add(new(0, [6], opt, 0.05f, LossReduction.Mean));                  // no hidden layer: h over [p'; q']
            data.Add(new(5, [10, 7, 3], opt, 0.05f, LossReduction.Mean));           // NeuMF
            data.Add(new(4, [8], opt, 0f, LossReduction.Sum));                      // NeuMF without hidden layers
        }
        return data.ToDictionary(s => s.ToString());
    }

    /// <summary>Seeded NCF weights stretched so the tower's ReLUs are partly active (biases non-zero, embeddings × 30).</summary>
    private static NcfWeights Weights(Setting s, int users = NU, int items = NI)
    {
        var w = NcfWeights.Init(users, items, s.Dim, s.Layers, 3);
        float[]? X(float[]? a) => a?.Select(v => v * 30).ToArray();
        var rng = new Rng(4, "ncf.test.bias");
        return w with
        {
            GmfP = X(w.GmfP), GmfQ = X(w.GmfQ), MlpP = X(w.MlpP), MlpQ = X(w.MlpQ), HBias = 0.2f,
            B = w.B.Select(b => b.Select(_ => (float)(rng.NextDouble() - 0.5) * 0.4f).ToArray()).ToArray(),
        };
    }

    private static NcfCore Torch(Setting s, NcfWeights w, torch.ScalarType dt) => s.Dim == 0
        ? new MlpModel(new MlpConfig { Layers = s.Layers, Optimizer = s.Opt, LearningRate = 0.02f, L2 = s.L2, Reduction = s.Reduction }, w, dtype: dt).Core
        : new NeuMfModel(new NeuMfConfig { Dim = s.Dim, Layers = s.Layers, Optimizer = s.Opt, LearningRate = 0.02f, L2 = s.L2, Reduction = s.Reduction }, w, dtype: dt).Core;

    private static EmbeddingEngine Fused(Setting s, NcfWeights w, int threads) =>
        EmbeddingModels.Ncf(s.Dim == 0 ? "MLP" : "NeuMF", s, s.Dim, s.Layers, s.L2, s.Reduction, s.Opt, 0.02f, w, threads);

    /// <summary>Rows [GMF ; MLP] per user or item, as the fused engine stores them.</summary>
    private static double[] Rows(double[]? gmf, double[] mlp, int n, int d, int e) =>
        Enumerable.Range(0, n).SelectMany(r => (gmf is null ? [] : gmf.Skip(r * d).Take(d)).Concat(mlp.Skip(r * e).Take(e))).ToArray();

    private static double[] D(float[]? a) => a?.Select(x => (double)x).ToArray() ?? [];

    private static (double[] U, double[] I, double[] Dense) Layout(Setting s, Func<string, double[]?> get)
    {
        int e = s.Layers[0] / 2;
        var dense = Enumerable.Range(1, s.Layers.Length - 1).SelectMany(l => get($"w{l}")!.Concat(get($"b{l}")!)).Concat(get("h")!).Concat(get("h_bias")!);
        return (Rows(get("gmf_p"), get("mlp_p")!, NU, s.Dim, e), Rows(get("gmf_q"), get("mlp_q")!, NI, s.Dim, e), dense.ToArray());
    }

    [Theory]
    [MemberData(nameof(Settings))]
    public void LossAndEveryGradientMatchTorchFloat64(string name)
    {
        var s = AllSettings()[name];
        var w = Weights(s);
        using var core = Torch(s, w, torch.ScalarType.Float64);
        using var fused = Fused(s, w, 2);
        foreach (int k in new[] { 1, 3 })
        {
            var batch = Batch(k, seed: 9 + k, users: NU, items: NI, count: 8);
            var t = core.ComputeGradients(batch);
            var f = fused.ComputeGradient(batch);
            Assert.True(Math.Abs(t.SummedLogLoss - f.Loss) <= 1e-5 * Math.Abs(t.SummedLogLoss) + 1e-6, $"k={k}: loss torch {t.SummedLogLoss:R}, fused {f.Loss:R}");
            var (u, i, dense) = Layout(s, n => t.Grads.GetValueOrDefault(n));
            Assert.True(u.Any(x => x != 0) && i.Any(x => x != 0) && dense.Any(x => x != 0), "the case must have non-zero gradients");
            Close(f.Users, u, 1e-6, 1e-4, $"k={k} dUsers"); Close(f.Items, i, 1e-6, 1e-4, $"k={k} dItems");
            Close(f.Dense, dense, 1e-6, 1e-4, $"k={k} dDense (W, b, h, h_bias)");
        }
    }

    [Theory]
    [MemberData(nameof(Settings))]
    public void TrainingStepsMatchTorch(string name)
    {
        var s = AllSettings()[name];
        var w = Weights(s);
        using var core = Torch(s, w, torch.ScalarType.Float32);
        using var fused = Fused(s, w, 2);
        var start = fused.Export();
        for (int step = 0; step < 6; step++)
        {
            var batch = Batch(2, seed: 50 + step, users: NU, items: NI, count: 8);
            double lt = core.TrainStep(batch), lf = fused.TrainStep(batch);
            Assert.True(Math.Abs(lt - lf) <= 1e-4 * Math.Abs(lt) + 1e-5, $"step {step}: torch loss {lt:R}, fused {lf:R}");
        }
        var x = core.Export();
        var (u, i, dense) = Layout(s, n => n switch
        {
            "gmf_p" => D(x.GmfP), "gmf_q" => D(x.GmfQ), "mlp_p" => D(x.MlpP), "mlp_q" => D(x.MlpQ), "h" => D(x.H), "h_bias" => [x.HBias],
            _ => D(n[0] == 'w' ? x.W[int.Parse(n[1..]) - 1] : x.B[int.Parse(n[1..]) - 1]),
        });
        var b = fused.Export();
        Close(b.Users, u, 5e-5, 1e-3, "users"); Close(b.Items, i, 5e-5, 1e-3, "items"); Close(b.Dense, dense, 5e-5, 1e-3, "dense");
        Assert.NotEqual(start.Dense, b.Dense);
    }

    [Theory]
    [MemberData(nameof(Settings))]
    public void ScoresMatchTorch(string name)
    {
        var s = AllSettings()[name];
        var w = Weights(s);
        using var core = Torch(s, w, torch.ScalarType.Float64);
        using var fused = Fused(s, w, 2);
        int[] users = Enumerable.Range(0, NU).ToArray();
        var ta = new float[NU * NI]; var fa = new float[NU * NI];
        core.ScoreAllItems(users, ta); fused.ScoreAllItems(users, fa);
        Close(fa, D(ta), 1e-5, 1e-5, "ScoreAllItems");
        var pu = users.SelectMany(u => Enumerable.Repeat(u, NI)).ToArray();
        var pi = users.SelectMany(_ => Enumerable.Range(0, NI)).ToArray();
        var tp = new float[pu.Length]; var fp = new float[pu.Length];
        core.ScorePairs(pu, pi, tp); fused.ScorePairs(pu, pi, fp);
        Close(fp, D(tp), 1e-6, 1e-5, "ScorePairs");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(6)]
    public void FullRankingOfManyItemsEqualsScorePairsAfterTraining(int dim)
    {
        // more items than one 256-item segment and more users than one 16-user block; after steps, so the item cache is refreshed
        var s = new Setting(dim, [14, 9, 5], OptimizerKind.Adam, 0f, LossReduction.Mean);
        using var fused = Fused(s, Weights(s, 37, 600), 2);
        int[] users = Enumerable.Range(0, 37).Reverse().ToArray();
        var all = new float[37 * 600];
        fused.ScoreAllItems(users, all);
        fused.TrainStep(Batch(2, seed: 1, users: 37, items: 600, count: 64));
        var before = all.ToArray();
        fused.ScoreAllItems(users, all);
        Assert.NotEqual(before, all);
        var pu = users.SelectMany(u => Enumerable.Repeat(u, 600)).ToArray();
        var pi = users.SelectMany(_ => Enumerable.Range(0, 600)).ToArray();
        var direct = new float[pu.Length];
        fused.ScorePairs(pu, pi, direct);
        Close(all, D(direct), 1e-6, 1e-5, "full ranking vs ScorePairs");
    }

    [Theory]
    [InlineData(0, OptimizerKind.Adam)]
    [InlineData(5, OptimizerKind.Adam)]
    [InlineData(5, OptimizerKind.Sgd)]
    [InlineData(0, OptimizerKind.Adagrad)]
    public void ResumeAndThreadCountAreBitIdentical(int dim, OptimizerKind opt)
    {
        var s = new Setting(dim, [10, 7, 3], opt, 0.01f, LossReduction.Mean);
        var w = Weights(s);
        using var a = Fused(s, w, 1);
        using var b = Fused(s, w, 2);
        for (int step = 0; step < 3; step++) { var batch = Batch(3, seed: step, users: NU, items: NI, count: 150); a.TrainStep(batch); b.TrainStep(batch); }
        using var resumed = Fused(s, Weights(s), 2);
        resumed.LoadState(b.SaveState());
        for (int step = 3; step < 6; step++)
        {
            var batch = Batch(3, seed: step, users: NU, items: NI, count: 150);
            double la = a.TrainStep(batch), lb = b.TrainStep(batch), lr = resumed.TrainStep(batch);
            Assert.Equal(la, lb); Assert.Equal(lb, lr);
        }
        Assert.Equal(a.SaveState(), b.SaveState());
        Assert.Equal(b.SaveState(), resumed.SaveState());
        var sa = new float[3 * NI]; var sr = new float[3 * NI];
        a.ScoreAllItems([0, 4, 8], sa); resumed.ScoreAllItems([0, 4, 8], sr);
        Assert.Equal(sa, sr);
    }

    [Theory]
    [InlineData("mlp", "layers=[16,8,4]")]
    [InlineData("neumf", "layers=[16,8,4]")]
    public void MetricsAfterTrainingMatchTorch(string model, string layers)
    {
        var ds = SyntheticData.Generate(new SyntheticOptions { Users = 200, Items = 150, Seed = 3 });
        var split = LeaveLastOut.Build(ds.Data, seed: 1);
        var settings = ConfigBinder.ParsePairs(model == "mlp" ? [layers, "learning_rate=0.01"] : ["dim=8", layers, "learning_rate=0.01"]);
        BuiltModel Build(string engine) => ModelRegistry.Build(model, new ModelBuildContext
        {
            NumUsers = split.NumUsers, NumItems = split.NumItems, Train = split.Train, Seed = 5, Threads = 2, Settings = settings, Engine = engine,
        });
        TestSetup.RegisterEngines();
        var train = new TrainConfig { Epochs = 6, BatchSize = 128, NegativesPerPositive = 2, EvalEvery = 0, Seed = 2, Threads = 2 };
        using var torchModel = (ITrainableRecommender)Build("torch").Model;
        using var fused = (ITrainableRecommender)Build("fused").Model;
        Assert.IsType<EmbeddingEngine>(fused);
        FusedTrainingParityTests.AssertSameTraining(torchModel, fused, split, train);
    }

    [Theory]
    [InlineData("gmf")]
    [InlineData("mlp")]
    [InlineData("neumf")]
    public void LazyAdamOnTheFusedEngineMovesOnlyTheBatchRowsBySparseAdamAndTheTowerByDenseAdam(string model)
    {
        const float lr = 0.02f;
        double b1 = LrmlFused.Beta1, b2 = LrmlFused.Beta2, eps = LrmlFused.AdamEps;
        var s = new Setting(model == "mlp" ? 0 : 5, [10, 7, 3], OptimizerKind.LazyAdam, 0.01f, LossReduction.Mean);
        using var fused = model == "gmf"
            ? EmbeddingModels.Gmf(new GmfConfig { Dim = 5, Optimizer = OptimizerKind.LazyAdam, LearningRate = lr }, NU, NI, seed: 3, threads: 2)
            : Fused(s, Weights(s), 2);
        var start = fused.Export();
        int uw = start.Users.Length / NU, iw = start.Items.Length / NI;
        var (mu, vu) = (new double[start.Users.Length], new double[start.Users.Length]);
        var (mi, vi) = (new double[start.Items.Length], new double[start.Items.Length]);
        var (md, vd) = (new double[start.Dense.Length], new double[start.Dense.Length]);
        int untouchedSeen = 0;
        for (int t = 1; t <= 3; t++)
        {
            var batch = Batch(2, seed: 20 + t, users: t == 2 ? 3 : 5, items: 7, count: 12);   // rows ≥ 5 (users) and ≥ 7 (items) never touched
            var before = fused.Export();
            var g = fused.ComputeGradient(batch);
            fused.TrainStep(batch);
            var after = fused.Export();
            var (u, pos, neg) = Arrays(batch);
            var users = u.ToHashSet(); var items = pos.Concat(neg).ToHashSet();
            double lazyStep = lr * Math.Sqrt(1 - Math.Pow(b2, t)) / (1 - Math.Pow(b1, t));
            void Rows(float[] b0, float[] a0, float[] gr, double[] m, double[] v, int w, HashSet<int> touched, string name)
            {
                for (int x = 0; x < b0.Length; x++)
                {
                    if (!touched.Contains(x / w)) { Assert.Equal(b0[x], a0[x]); untouchedSeen++; continue; }   // no decay, no move
                    m[x] = b1 * m[x] + (1 - b1) * gr[x];
                    v[x] = b2 * v[x] + (1 - b2) * gr[x] * gr[x];
                    double expected = b0[x] - lazyStep * m[x] / (Math.Sqrt(v[x]) + eps);
                    Assert.True(Math.Abs(a0[x] - expected) < 2e-5, $"step {t} {name}[{x / w},{x % w}]: {a0[x]} vs SparseAdam {expected}");
                }
            }
            Rows(before.Users, after.Users, g.Users, mu, vu, uw, users, "users");
            Rows(before.Items, after.Items, g.Items, mi, vi, iw, items, "items");
            double step = lr / (1 - Math.Pow(b1, t)), bc2 = Math.Sqrt(1 - Math.Pow(b2, t));
            for (int x = 0; x < before.Dense.Length; x++)   // output layer and tower: PyTorch's dense Adam
            {
                md[x] = b1 * md[x] + (1 - b1) * g.Dense[x];
                vd[x] = b2 * vd[x] + (1 - b2) * g.Dense[x] * g.Dense[x];
                double expected = before.Dense[x] - step * md[x] / (Math.Sqrt(vd[x]) / bc2 + eps);
                Assert.True(Math.Abs(after.Dense[x] - expected) < 2e-5, $"step {t} dense[{x}]: {after.Dense[x]} vs Adam {expected}");
            }
        }
        Assert.True(untouchedSeen > 0, "the batches must leave some rows untouched");
        // the TorchSharp NCF models update whole tensors: lazy-adam there is refused, naming the engine that has it
        TestSetup.RegisterEngines();
        var split = LeaveLastOut.Build(SyntheticData.Generate(new SyntheticOptions { Users = 20, Items = 15, Seed = 3 }).Data, seed: 1);
        var e = Assert.Throws<ArgumentException>(() => ModelRegistry.Build(model, new ModelBuildContext
        {
            NumUsers = split.NumUsers, NumItems = split.NumItems, Train = split.Train, Seed = 1, Threads = 1, Engine = "torch",
            Settings = ConfigBinder.ParsePairs(["optimizer=lazy-adam"]),
        }));
        Assert.Contains("fused CPU engine only", e.Message);
        Assert.Equal("fused", ModelRegistry.EngineUsed(model, null, "cpu", ConfigBinder.ParsePairs(["optimizer=lazy-adam"])));
    }

    [Fact]
    public void FusedIsTheCpuDefaultExceptForPretrainingWhichStaysOnTorch()
    {
        TestSetup.RegisterEngines();
        var pretrain = ConfigBinder.ParsePairs(["pretrain=a,b", "optimizer=sgd"]);
        Assert.Equal("fused", ModelRegistry.DefaultEngine("mlp", [], "cpu"));
        Assert.Equal("fused", ModelRegistry.DefaultEngine("neumf", [], "cpu"));
        Assert.Null(ModelRegistry.DefaultEngine("neumf", pretrain, "cpu"));
        Assert.Null(ModelRegistry.DefaultEngine("mlp", [], "cuda"));
        var split = LeaveLastOut.Build(SyntheticData.Generate(new SyntheticOptions { Users = 20, Items = 15, Seed = 3 }).Data, seed: 1);
        var ctx = new ModelBuildContext { NumUsers = split.NumUsers, NumItems = split.NumItems, Train = split.Train, Seed = 1, Threads = 1 };
        var built = ModelRegistry.Build("neumf", ctx);
        using (built.Model) { Assert.Equal("fused", built.Engine); Assert.Equal("fused", built.Config["engine"]!.GetValue<string>()); }
        var e = Assert.Throws<ArgumentException>(() => ModelRegistry.Build("neumf", new ModelBuildContext
        {
            NumUsers = ctx.NumUsers, NumItems = ctx.NumItems, Train = ctx.Train, Seed = 1, Threads = 1, Settings = pretrain, Engine = "fused",
        }));
        Assert.Contains("--engine torch", e.Message);
    }
}
