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
/// The fused TransCF engine (<see cref="TransCfFused"/>) against the TorchSharp <see cref="TransCfModel"/>: same weights and
/// batches → same loss and gradients through the neighbourhood means (float64 reference) for every loss option, the same
/// parameters after several steps for every optimiser and projection mode with the same neighbour draws, full-ranking
/// scores (the expanded matrix-product form) equal to the direct distance and to torch, bit-identical resume (the
/// neighbour sampler included) and thread counts, and comparable metrics after training through the kit's Trainer.
/// </summary>
[Collection("Torch models")]
public class TransCfFusedTests
{
    private const int NU = 9, NI = 11;

    /// <summary>Uneven neighbourhoods: user 0 has 8 items, user 8 none; item 10 has no users.</summary>
    private static UserItems Train()
    {
        var rng = new Rng(3, "test.transcf.train");
        var lists = new List<IReadOnlyList<int>>();
        for (int u = 0; u < NU; u++)
        {
            int n = u == 0 ? 8 : u == NU - 1 ? 0 : 1 + rng.NextInt(5);
            lists.Add(Enumerable.Range(0, NI - 1).OrderBy(_ => rng.NextInt(1000)).Take(n).Order().ToList());
        }
        return UserItems.FromLists(NI, lists);
    }

    private static float[] Gauss(int n, string stream) => TorchSupport.GaussianInit(n, 0.5, 7, stream);   // several rows outside the ball

    private static (TransCfModel Torch, TransCfFused Fused) Pair(TransCfConfig c, torch.ScalarType dt, int threads = 2, long seed = 4)
    {
        var train = Train();
        var p = Gauss(NU * c.Dim, "p"); var q = Gauss(NI * c.Dim, "q");
        return (new TransCfModel(c, train, p, q, seed, dtype: dt), new TransCfFused(c, train, p, q, seed, threads));
    }

    private static double[] D(float[] a) => a.Select(x => (double)x).ToArray();

    public static TheoryData<string> Cases() => new(AllCases().Keys);

    private static Dictionary<string, TransCfConfig> AllCases()
    {
        var list = new List<TransCfConfig>();
        foreach (var opt in new[] { OptimizerKind.Adam, OptimizerKind.Sgd, OptimizerKind.Adagrad })
        {
            list.Add(new() { Dim = 6, Optimizer = opt, LearningRate = 0.02f, Margin = 0.5f });                                  // both regularisers, all neighbours, epoch projection
            list.Add(new() { Dim = 6, Optimizer = opt, LearningRate = 0.02f, Margin = 1f, DistanceWeight = 0, NeighbourhoodWeight = 0, NeighbourSample = 3, Projection = TransCfProjection.Step });
            list.Add(new() { Dim = 9, Optimizer = opt, LearningRate = 0.02f, Margin = 0.3f, DistanceWeight = 0.3f, NeighbourhoodWeight = 0, NeighbourSample = 2, Projection = TransCfProjection.None });
            list.Add(new() { Dim = 5, Optimizer = opt, LearningRate = 0.02f, Margin = 2f, DistanceWeight = 0, NeighbourhoodWeight = 0.2f, Projection = TransCfProjection.Step });
        }
        return list.ToDictionary(c => $"{c.Optimizer} d={c.Dim} m={c.Margin} dist={c.DistanceWeight} nbr={c.NeighbourhoodWeight} sample={c.NeighbourSample} {c.Projection}");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void LossAndGradientsMatchTorchFloat64(string name)
    {
        var (torchModel, fused) = Pair(AllCases()[name], torch.ScalarType.Float64);
        using (torchModel) using (fused)
            foreach (int k in new[] { 1, 3 })
            {
                var batch = Batch(k, seed: 9 + k, users: NU, items: NI, count: 8);
                var t = torchModel.ComputeGradients(batch);
                var f = fused.ComputeGradient(batch);
                Assert.True(Math.Abs(t.Loss - f.Loss) <= 1e-5 * Math.Abs(t.Loss) + 1e-6, $"k={k}: loss torch {t.Loss:R}, fused {f.Loss:R}");
                Assert.True(t.P.Any(x => x != 0) && t.Q.Any(x => x != 0), "the case must have non-zero gradients");
                Close(f.Users, t.P, 1e-6, 1e-4, $"k={k} dP"); Close(f.Items, t.Q, 1e-6, 1e-4, $"k={k} dQ");
            }
    }

    [Fact]
    public void GradientsReachNeighbourRowsOutsideTheBatch()
    {
        // user 0's mean averages its 8 items: an item of user 0 that is in no triple still gets a gradient
        var c = new TransCfConfig { Dim = 4, Margin = 10f, DistanceWeight = 0, NeighbourhoodWeight = 0 };   // the hinge is active
        var (torchModel, fused) = Pair(c, torch.ScalarType.Float64);
        using (torchModel) using (fused)
        {
            var batch = new TrainingBatch(1, 1) { Count = 1 };
            batch.Users[0] = 0; batch.Positives[0] = Train()[0][0]; batch.Negatives[0] = Train()[0][1];
            var f = fused.ComputeGradient(batch);
            int outside = Train()[0][2];
            Assert.Contains(f.Items.Skip(outside * 4).Take(4), g => g != 0);
            Close(f.Items, torchModel.ComputeGradients(batch).Q, 1e-6, 1e-4, "dQ");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void TrainingStepsMatchTorchWithTheSameNeighbourDraws(string name)
    {
        var (torchModel, fused) = Pair(AllCases()[name], torch.ScalarType.Float32);
        using (torchModel) using (fused)
        {
            var start = fused.Export();
            for (int s = 0; s < 6; s++)
            {
                var batch = Batch(2, seed: 50 + s, users: NU, items: NI, count: 8);
                double lt = torchModel.TrainStep(batch), lf = fused.TrainStep(batch);
                Assert.True(Math.Abs(lt - lf) <= 1e-4 * Math.Abs(lt) + 1e-5, $"step {s}: torch loss {lt:R}, fused {lf:R}");
                if (s == 2) { torchModel.EndEpoch(1); fused.EndEpoch(1); }
            }
            var a = torchModel.ExportEmbeddings(); var b = fused.Export();
            Close(b.Users, D(a.Users), 5e-5, 1e-3, "users"); Close(b.Items, D(a.Items), 5e-5, 1e-3, "items");
            Assert.NotEqual(start.Users, b.Users);
        }
    }

    [Fact]
    public void DifferentNeighbourDrawsGiveDifferentSteps()
    {
        // the parity above needs the draws: a model seeded differently samples other neighbours and ends elsewhere
        var c = new TransCfConfig { Dim = 6, LearningRate = 0.02f, Margin = 1f, NeighbourSample = 2 };
        var train = Train();
        var p = Gauss(NU * c.Dim, "p"); var q = Gauss(NI * c.Dim, "q");
        using var fused = new TransCfFused(c, train, p, q, seed: 4, threads: 1);
        using var other = new TransCfFused(c, train, p, q, seed: 5, threads: 1);
        {
            for (int s = 0; s < 3; s++) { var batch = Batch(2, seed: 50 + s, users: NU, items: NI, count: 8); fused.TrainStep(batch); other.TrainStep(batch); }
            Assert.NotEqual(fused.Export().Items, other.Export().Items);
        }
    }

    [Fact]
    public void FullRankingEqualsTheDirectDistanceAndTorch()
    {
        var c = new TransCfConfig { Dim = 7, LearningRate = 0.05f, NeighbourSample = 2 };
        var (torchModel, fused) = Pair(c, torch.ScalarType.Float64);
        using (torchModel) using (fused)
        {
            int[] users = Enumerable.Range(0, NU).Reverse().ToArray();
            var all = new float[NU * NI]; var ta = new float[NU * NI];
            fused.ScoreAllItems(users, all); torchModel.ScoreAllItems(users, ta);
            var pu = users.SelectMany(u => Enumerable.Repeat(u, NI)).ToArray();
            var pi = users.SelectMany(_ => Enumerable.Range(0, NI)).ToArray();
            var direct = new float[pu.Length];
            fused.ScorePairs(pu, pi, direct);
            Close(all, D(direct), 2e-6, 1e-5, "expanded vs direct distance");
            Close(all, D(ta), 2e-6, 1e-5, "fused vs torch");
            // after training steps the cache follows the parameters
            fused.TrainStep(Batch(1, seed: 3, users: NU, items: NI, count: 8));
            var after = new float[NU * NI];
            fused.ScoreAllItems(users, after);
            fused.ScorePairs(pu, pi, direct);
            Close(after, D(direct), 2e-6, 1e-5, "after a step");
            Assert.NotEqual(all, after);
        }
    }

    [Fact]
    public void FullRankingOfManyUsersAndItemsEqualsTheDirectDistance()
    {
        // more items than one 256-item segment and more users than one 16-user block: every tile edge is crossed
        var ds = SyntheticData.Generate(new SyntheticOptions { Users = 40, Items = 600, Seed = 3 });
        var split = LeaveLastOut.Build(ds.Data, seed: 1);
        using var fused = TransCfFused.Create(new TransCfConfig { Dim = 13, InitStd = 0.3f }, split.Train, seed: 4, threads: 2);
        int nu = split.NumUsers, ni = split.NumItems;
        int[] users = Enumerable.Range(0, nu).Reverse().ToArray();
        var all = new float[nu * ni];
        fused.ScoreAllItems(users, all);
        var pu = users.SelectMany(u => Enumerable.Repeat(u, ni)).ToArray();
        var pi = users.SelectMany(_ => Enumerable.Range(0, ni)).ToArray();
        var direct = new float[pu.Length];
        fused.ScorePairs(pu, pi, direct);
        Close(all, D(direct), 2e-6, 1e-5, "expanded vs direct distance");
    }

    [Theory]
    [InlineData(OptimizerKind.Adam, TransCfProjection.Step)]
    [InlineData(OptimizerKind.Adagrad, TransCfProjection.Epoch)]
    [InlineData(OptimizerKind.LazyAdam, TransCfProjection.Step)]
    public void ResumeAndThreadCountAreBitIdentical(OptimizerKind opt, TransCfProjection projection)
    {
        var c = new TransCfConfig { Dim = 9, LearningRate = 0.02f, Margin = 1f, Optimizer = opt, Projection = projection, NeighbourSample = 2 };
        var train = Train();
        TransCfFused Make(int threads) => TransCfFused.Create(c, train, seed: 6, threads);
        using var a = Make(1);
        using var b = Make(2);
        for (int s = 0; s < 3; s++) { var batch = Batch(3, seed: s, users: NU, items: NI, count: 150); a.TrainStep(batch); b.TrainStep(batch); }
        a.EndEpoch(1); b.EndEpoch(1);
        using var resumed = Make(2);
        resumed.LoadState(b.SaveState());
        for (int s = 3; s < 6; s++)
        {
            var batch = Batch(3, seed: s, users: NU, items: NI, count: 150);
            double la = a.TrainStep(batch), lb = b.TrainStep(batch), lr = resumed.TrainStep(batch);
            Assert.Equal(la, lb); Assert.Equal(lb, lr);
        }
        Assert.Equal(a.SaveState(), b.SaveState());
        Assert.Equal(b.SaveState(), resumed.SaveState());
        Assert.Throws<DataFormatException>(() => resumed.LoadState(b.SaveState()[..^4]));
        using var sgd = TransCfFused.Create(c with { Optimizer = OptimizerKind.Sgd }, train, seed: 6, threads: 1);
        Assert.Throws<DataFormatException>(() => sgd.LoadState(b.SaveState()));
    }

    [Theory]
    [InlineData(5, TransCfProjection.None, 0.2f)]    // d = 5: every row shorter than one vector
    [InlineData(13, TransCfProjection.Step, 1f)]     // d = 13: a vector and a tail; rows of norm ≈ 1.8, so updated rows are projected
    [InlineData(16, TransCfProjection.Step, 0.2f)]
    public void LazyAdamMovesOnlyRowsWithAGradientSourceBySparseAdam(int dim, TransCfProjection projection, float scale)
    {
        const float lr = 0.02f;
        double b1 = LrmlFused.Beta1, b2 = LrmlFused.Beta2, eps = LrmlFused.AdamEps;
        var c = new TransCfConfig { Dim = dim, LearningRate = lr, Margin = 1f, Optimizer = OptimizerKind.LazyAdam, Projection = projection };
        var train = Train();
        using var fused = new TransCfFused(c, train, Gauss(NU * dim, "p").Select(x => x * scale).ToArray(), Gauss(NI * dim, "q").Select(x => x * scale).ToArray(), seed: 4, threads: 2);
        var (mu, vu) = (new double[NU * dim], new double[NU * dim]);
        var (mi, vi) = (new double[NI * dim], new double[NI * dim]);
        int untouched = 0, moved = 0, leftBehind = 0, projected = 0;
        var seenUsers = new HashSet<int>(); var seenItems = new HashSet<int>();
        for (int t = 1; t <= 3; t++)
        {
            var batch = Batch(2, seed: 30 + t, users: t == 2 ? 3 : 6, items: 6, count: 5);
            // step 1 also trains user 8 (no items) on item 10 (no users): rows the later steps reach by no path, so with a
            // moment of their own they would decay and move under dense Adam but must stay put under SparseAdam
            if (t == 1) { batch.Users[0] = NU - 1; batch.Positives[0] = NI - 1; }
            var before = fused.Export();
            var g = fused.ComputeGradient(batch);   // all neighbours, as TrainStep with NeighbourSample = 0
            fused.TrainStep(batch);
            var after = fused.Export();
            var (u, pos, neg) = Arrays(batch);
            // rows with a gradient source: the batch's users and items, the items the users' means average, the users the items' means average
            var users = u.Concat(pos.Concat(neg).SelectMany(i => Enumerable.Range(0, NU).Where(v => train[v].Contains(i)))).ToHashSet();
            var items = pos.Concat(neg).Concat(u.SelectMany(v => train[v].ToArray())).ToHashSet();
            double lazyStep = lr * Math.Sqrt(1 - Math.Pow(b2, t)) / (1 - Math.Pow(b1, t));
            void Rows(float[] b0, float[] a0, float[] gr, double[] m, double[] v, HashSet<int> touched, HashSet<int> seen, string name)
            {
                for (int r = 0; r < b0.Length / dim; r++)
                {
                    if (!touched.Contains(r))
                    {
                        for (int x = r * dim; x < (r + 1) * dim; x++) Assert.Equal(b0[x], a0[x]);   // no decay, no move
                        untouched++;
                        if (seen.Contains(r)) leftBehind++;
                        continue;
                    }
                    seen.Add(r);
                    var expected = new double[dim];
                    double norm = 0;
                    for (int j = 0; j < dim; j++)
                    {
                        int x = r * dim + j;
                        m[x] = b1 * m[x] + (1 - b1) * gr[x];
                        v[x] = b2 * v[x] + (1 - b2) * gr[x] * gr[x];
                        expected[j] = b0[x] - lazyStep * m[x] / (Math.Sqrt(v[x]) + eps);
                        norm += expected[j] * expected[j];
                    }
                    if (projection == TransCfProjection.Step && norm > 1) { for (int j = 0; j < dim; j++) expected[j] /= Math.Sqrt(norm); projected++; }
                    for (int j = 0; j < dim; j++)
                        Assert.True(Math.Abs(a0[r * dim + j] - expected[j]) < 2e-5, $"step {t} {name}[{r},{j}]: {a0[r * dim + j]} vs SparseAdam {expected[j]}");
                    moved++;
                }
            }
            Rows(before.Users, after.Users, g.Users, mu, vu, users, seenUsers, "users");
            Rows(before.Items, after.Items, g.Items, mi, vi, items, seenItems, "items");
        }
        Assert.True(untouched > 0 && moved > 0 && leftBehind > 0, $"the batches must move rows and leave rows behind that moved before ({untouched} untouched, {moved} moved, {leftBehind} left behind)");
        if (scale >= 1f) Assert.True(projected > 0, "the wide start must send updated rows through the projection");
        // the TorchSharp model updates whole tensors: lazy-adam there is refused, naming the engine that has it
        var e = Assert.Throws<ArgumentException>(() => new TransCfModel(c, train, seed: 4));
        Assert.Contains("fused CPU engine only", e.Message);
        TestSetup.RegisterEngines();
        Assert.Equal("fused", ModelRegistry.EngineUsed("transcf", null, "cpu", ConfigBinder.ParsePairs(["optimizer=lazy-adam"])));
    }

    [Fact]
    public void MetricsAfterTrainingMatchTorch()
    {
        var ds = SyntheticData.Generate(new SyntheticOptions { Users = 200, Items = 150, Seed = 3 });
        var split = LeaveLastOut.Build(ds.Data, seed: 1);
        var settings = new KeyValuePair<string, string>[] { new("dim", "16"), new("learning_rate", "0.01"), new("margin", "0.5"), new("neighbour_sample", "5") };
        BuiltModel Build(string engine) => ModelRegistry.Build("transcf", new ModelBuildContext
        {
            NumUsers = split.NumUsers, NumItems = split.NumItems, Train = split.Train, Seed = 5, Threads = 2, Settings = settings, Engine = engine,
        });
        TestSetup.RegisterEngines();
        var train = new TrainConfig { Epochs = 6, BatchSize = 128, NegativesPerPositive = 1, EvalEvery = 0, Seed = 2, Threads = 2 };
        using var torchModel = (ITrainableRecommender)Build("torch").Model;
        using var fused = (ITrainableRecommender)Build("fused").Model;
        Assert.IsType<TransCfFused>(fused);
        FusedTrainingParityTests.AssertSameTraining(torchModel, fused, split, train);
    }

    [Fact]
    public void FusedIsTheCpuDefaultAndTheIdentityNamesIt()
    {
        TestSetup.RegisterEngines();
        Assert.Equal("fused", ModelRegistry.DefaultEngine("transcf", [], "cpu"));
        Assert.Null(ModelRegistry.DefaultEngine("transcf", [], "cuda"));
        var split = LeaveLastOut.Build(SyntheticData.Generate(new SyntheticOptions { Users = 20, Items = 15, Seed = 3 }).Data, seed: 1);
        var ctx = new ModelBuildContext { NumUsers = split.NumUsers, NumItems = split.NumItems, Train = split.Train, Seed = 1, Threads = 1 };
        var built = ModelRegistry.Build("transcf", ctx);
        using (built.Model) { Assert.Equal("fused", built.Engine); Assert.Equal("fused", built.Config["engine"]!.GetValue<string>()); }
        using (var torchModel = ModelRegistry.Build("transcf", new ModelBuildContext { NumUsers = ctx.NumUsers, NumItems = ctx.NumItems, Train = ctx.Train, Seed = 1, Threads = 1, Engine = "torch" }).Model) Assert.IsType<TransCfModel>(torchModel);
    }
}
