using Lrml.Models;
using Lrml.Util;
using TorchSharp;
using static Lrml.Tests.Models.ModelTestSupport;
using static TorchSharp.torch;

namespace Lrml.Tests.Models;

/// <summary>LRML optimiser semantics, norm constraints, known port bugs, determinism, state and resources.</summary>
[Collection("Torch models")]
public class LrmlTrainingTests
{
    private static LrmlConfig Small(OptimizerKind opt = OptimizerKind.Adam, NormConstraint norm = NormConstraint.Clip, float lr = 0.01f) => new()
    { Dim = 8, Slots = 4, Margin = 0.5f, Optimizer = opt, NormConstraint = norm, LearningRate = lr };

    private static TrainingBatch[] Batches(long seed, int count, int size, int k, int users, int items)
    {
        var rng = new Rng(seed, "test.batches");
        return Enumerable.Range(0, count).Select(_ => RandomBatch(rng, size, k, users, items)).ToArray();
    }

    // ───────────── memory (K, M) ─────────────

    [Fact]
    public void MemoryGetsGradientsAndMovesAfterOneAdamStep()
    {
        using var model = new LrmlModel(Small(), 20, 15, seed: 3);
        Assert.Equal(["P", "Q", "K", "M"], model.TrainableParameters);      // the optimiser includes K and M
        var batch = Batches(1, 1, 16, 1, 20, 15)[0];
        var (_, _, _, gk, gm) = model.ComputeGradients(batch);
        Assert.Contains(gk, g => Math.Abs(g) > 1e-6);
        Assert.Contains(gm, g => Math.Abs(g) > 1e-6);
        var before = model.ExportParameters();
        model.TrainStep(batch);
        var after = model.ExportParameters();
        Assert.NotEqual(before.K, after.K);
        Assert.NotEqual(before.M, after.M);
        // every element of K and M moved (Adam's first step moves each element with a non-zero gradient by ≈ lr)
        Assert.All(before.K.Zip(after.K), t => Assert.NotEqual(t.First, t.Second));
    }

    [Fact]
    public void FrozenMemoryStaysBitIdentical()
    {
        using var model = new LrmlModel(Small() with { TrainMemory = false }, 20, 15, seed: 3);
        Assert.Equal(["P", "Q"], model.TrainableParameters);
        var before = model.ExportParameters();
        foreach (var b in Batches(2, 5, 16, 1, 20, 15)) model.TrainStep(b);
        var after = model.ExportParameters();
        Assert.Equal(before.K, after.K);
        Assert.Equal(before.M, after.M);
        Assert.NotEqual(before.P, after.P);
    }

    // ───────────── known port bugs ─────────────

    [Fact]
    public void MemoryShapedNByDWorksWhenDDiffersFromN()
    {
        var config = new LrmlConfig { Dim = 5, Slots = 3 };
        using var model = new LrmlModel(config, 6, 7, seed: 1);
        var sd = model.Module.state_dict();
        Assert.Equal(["P", "Q", "K", "M"], sd.Keys);
        Assert.Equal(new long[] { 5, 3 }, sd["K"].shape);
        Assert.Equal(new long[] { 3, 5 }, sd["M"].shape);
        foreach (var b in Batches(3, 3, 8, 2, 6, 7)) Assert.True(double.IsFinite(model.TrainStep(b)));
        var scores = new float[2 * 7];
        model.ScoreAllItems([0, 5], scores);
        Assert.All(scores, s => Assert.True(float.IsFinite(s) && s < 0));
        var att = new float[3]; var rel = new float[5];
        model.Explain([1], [2], att, rel);
        Assert.Equal(1.0, att.Sum(), 5);
    }

    [Fact]
    public void MemoryInitHasMeanZeroAndStdSigma()
    {
        var config = new LrmlConfig { Dim = 100, Slots = 50, InitScale = 0.1f };
        using var model = new LrmlModel(config, 3, 3, seed: 11);
        var w = model.ExportParameters();
        foreach (var t in new[] { w.K, w.M })
        {
            double mean = t.Average(v => (double)v);
            double std = Math.Sqrt(t.Average(v => (v - mean) * (v - mean)));
            Assert.True(Math.Abs(mean) < 0.006, $"mean {mean} (the TF1 port bug gives ≈ 0.1)");   // SE = 0.1/√5000 ≈ 0.0014
            Assert.InRange(std, 0.095, 0.105);
        }
        Assert.All(w.P, v => Assert.InRange(v, -0.1f, 0.1f));
    }

    // ───────────── norm constraints ─────────────

    /// <summary>Batches that touch every user and every item, so every stored row is "touched" at every step.</summary>
    private static TrainingBatch[] CoveringBatches(int steps, int users, int items)
    {
        var rng = new Rng(5, "covering");
        var list = new TrainingBatch[steps];
        for (int s = 0; s < steps; s++)
        {
            var b = new TrainingBatch(users, 1) { Count = users };
            for (int u = 0; u < users; u++) { b.Users[u] = u; b.Positives[u] = u % items; b.Negatives[u] = (u + 1 + rng.NextInt(items - 1)) % items; }
            list[s] = b;
        }
        return list;
    }

    private static double MaxRowNorm(float[] table, int d) =>
        Enumerable.Range(0, table.Length / d).Max(r => Norm(table.AsSpan(r * d, d)));

    [Fact]
    public void ProjectKeepsEveryTouchedRowInTheUnitBall()
    {
        using var model = new LrmlModel(Small(norm: NormConstraint.Project, lr: 0.5f) with { InitScale = 0.9f }, 20, 15, seed: 4);
        var w0 = model.ExportParameters();
        Assert.True(MaxRowNorm(w0.P, 8) <= 1 + 1e-6);                 // projected at construction (σ = 0.9 gives rows > 1)
        foreach (var b in CoveringBatches(20, 20, 15)) model.TrainStep(b);
        var w = model.ExportParameters();
        Assert.True(MaxRowNorm(w.P, 8) <= 1 + 1e-6, $"max user norm {MaxRowNorm(w.P, 8)}");
        Assert.True(MaxRowNorm(w.Q, 8) <= 1 + 1e-6, $"max item norm {MaxRowNorm(w.Q, 8)}");
    }

    [Fact]
    public void WithoutConstraintTheSameRunLeavesTheUnitBall()
    {
        using var model = new LrmlModel(Small(norm: NormConstraint.None, lr: 0.5f) with { InitScale = 0.9f }, 20, 15, seed: 4);
        foreach (var b in CoveringBatches(20, 20, 15)) model.TrainStep(b);
        var w = model.ExportParameters();
        Assert.True(Math.Max(MaxRowNorm(w.P, 8), MaxRowNorm(w.Q, 8)) > 1.05);
    }

    [Fact]
    public void ClipBoundsTheVectorsUsedForScoringWhileStoredRowsMayExceed()
    {
        var config = Small(norm: NormConstraint.Clip, lr: 0.5f) with { InitScale = 0.9f };
        using var model = new LrmlModel(config, 20, 15, seed: 4);
        foreach (var b in CoveringBatches(20, 20, 15)) model.TrainStep(b);
        var exported = model.ExportParameters();
        Assert.True(Math.Max(MaxRowNorm(exported.P, 8), MaxRowNorm(exported.Q, 8)) > 1.05);   // stored rows exceed 1
        var w = HandWeights.From(exported);
        var users = Enumerable.Range(0, 20).ToArray(); var items = Enumerable.Range(0, 15).ToArray();
        var (eu, ei) = model.EffectiveEmbeddings(users, items);
        Assert.True(MaxRowNorm(eu, 8) <= 1 + 1e-6);
        Assert.True(MaxRowNorm(ei, 8) <= 1 + 1e-6);
        // and scoring really uses the clipped vectors: scores match hand arithmetic with the clip, not without
        var s = new float[users.Length];
        var its = users.Select(u => u % 15).ToArray();
        model.ScorePairs(users, its, s);
        double maxDiffUnclipped = 0;
        for (int x = 0; x < users.Length; x++)
        {
            Assert.Equal(LrmlHand.Score(w, config, users[x], its[x]), s[x], 1e-4);
            maxDiffUnclipped = Math.Max(maxDiffUnclipped, Math.Abs(LrmlHand.Score(w, config with { NormConstraint = NormConstraint.None }, users[x], its[x]) - s[x]));
        }
        Assert.True(maxDiffUnclipped > 1e-2);
    }

    // ───────────── optimiser semantics ─────────────

    [Fact]
    public void LazyAdamLeavesRowsOutsideTheBatchBitIdentical()
    {
        using var model = new LrmlModel(Small(OptimizerKind.LazyAdam, NormConstraint.None), 20, 15, seed: 6);
        var w0 = model.ExportParameters();
        // three steps that only ever touch users 0–4 and items 0–5
        var batches = Batches(7, 3, 10, 2, 5, 6);
        foreach (var b in batches) model.TrainStep(b);
        var w = model.ExportParameters();
        Assert.Equal(w0.P.AsSpan(5 * 8).ToArray(), w.P.AsSpan(5 * 8).ToArray());
        Assert.Equal(w0.Q.AsSpan(6 * 8).ToArray(), w.Q.AsSpan(6 * 8).ToArray());
        Assert.NotEqual(w0.P.AsSpan(0, 5 * 8).ToArray(), w.P.AsSpan(0, 5 * 8).ToArray());
    }

    [Fact]
    public void DenseAdamMovesRowsOutsideTheBatchOnceTheirMomentsAreNonZero()
    {
        using var model = new LrmlModel(Small(OptimizerKind.Adam, NormConstraint.None), 20, 15, seed: 6);
        // step 1 touches users 0–4; step 2 only users 10–14: dense Adam still moves users 0–4 in step 2
        model.TrainStep(Batches(8, 1, 10, 1, 5, 15)[0]);
        var w1 = model.ExportParameters();
        var b2 = Batches(9, 1, 10, 1, 5, 15)[0];
        for (int x = 0; x < b2.Count; x++) b2.Users[x] += 10;
        model.TrainStep(b2);
        var w2 = model.ExportParameters();
        Assert.NotEqual(w1.P.AsSpan(0, 5 * 8).ToArray(), w2.P.AsSpan(0, 5 * 8).ToArray());
        // rows never touched (users 5–9, zero moments) do not move
        Assert.Equal(w1.P.AsSpan(5 * 8, 5 * 8).ToArray(), w2.P.AsSpan(5 * 8, 5 * 8).ToArray());
    }

    private sealed class AdamSim(double lr, bool lazy, int size)
    {
        private readonly double[] _m = new double[size], _v = new double[size];
        private int _t;
        private const double B1 = 0.9, B2 = 0.999, Eps = 1e-8;

        /// <summary>One step; for lazy, only elements flagged in <paramref name="touched"/> are updated.</summary>
        public void Step(double[] theta, double[] g, bool[]? touched)
        {
            _t++;
            double bc1 = 1 - Math.Pow(B1, _t), bc2 = 1 - Math.Pow(B2, _t);
            for (int x = 0; x < theta.Length; x++)
            {
                if (lazy && touched is not null && !touched[x]) continue;
                _m[x] = B1 * _m[x] + (1 - B1) * g[x];
                _v[x] = B2 * _v[x] + (1 - B2) * g[x] * g[x];
                // row-sparse tables: TF LazyAdam / SparseAdam form with the global t; dense tensors (and every
                // tensor of plain Adam): the torch.optim.Adam form
                theta[x] -= lazy && touched is not null
                    ? lr * Math.Sqrt(bc2) / bc1 * _m[x] / (Math.Sqrt(_v[x]) + Eps)
                    : lr / bc1 * _m[x] / (Math.Sqrt(_v[x]) / Math.Sqrt(bc2) + Eps);
            }
        }
    }

    [Theory]
    [InlineData(OptimizerKind.Adam)]
    [InlineData(OptimizerKind.LazyAdam)]
    public void AdamUpdatesFollowTheDocumentedFormula(OptimizerKind kind)
    {
        // Three steps on overlapping batches, replayed in double arithmetic from the model's own (finite-difference
        // checked) gradients: pins β₂ = 0.999, ε placement, dense moment decay vs lazy touched rows, global t.
        var config = LrmlModelTests.TinyConfig(LrmlDistance.SqrtL2, NegativeRelation.Reuse, NormConstraint.Clip, l2: 0.05f, opt: kind, margin: 2f);
        using var model = new LrmlModel(config, LrmlModelTests.Tiny(), dtype: ScalarType.Float64);
        var theta = LrmlModelTests.ToDoubles(model);
        var sims = theta.Select(t => new AdamSim(config.LearningRate, kind == OptimizerKind.LazyAdam, t.Length)).ToArray();
        TrainingBatch[] batches = [Batch([0, 0], [0, 1], [2, 2]), Batch([1], [2], [0]), Batch([2, 0], [3, 3], [1, 0])];
        foreach (var b in batches)
        {
            var (_, gp, gq, gk, gm) = model.ComputeGradients(b);
            var grads = new[] { gp, gq, gk, gm };
            var touchedUsers = new bool[theta[0].Length]; var touchedItems = new bool[theta[1].Length];
            foreach (var u in b.Users.Take(b.Count)) for (int j = 0; j < 3; j++) touchedUsers[u * 3 + j] = true;
            foreach (var i in b.Positives.Take(b.Count).Concat(b.Negatives)) for (int j = 0; j < 3; j++) touchedItems[i * 3 + j] = true;
            bool[]?[] touched = [touchedUsers, touchedItems, null, null];
            for (int t = 0; t < 4; t++) sims[t].Step(theta[t], grads[t], touched[t]);
            model.TrainStep(b);
            var actual = LrmlModelTests.ToDoubles(model);
            for (int t = 0; t < 4; t++) AssertClose(theta[t], actual[t], 1e-10, "θ" + t);
        }
        // (lazy: user 1 is first touched at step 2 and its update must use the global t = 2, not a per-row count
        // of 1; item 3 is untouched until step 3 and must stay bit-identical until then — both are in the replay)
    }

    // ───────────── determinism, chunking, state, resources ─────────────

    [Fact]
    public void SameSeedIsBitIdenticalAfterTenStepsOnOneThread()
    {
        int threads = torch.get_num_threads();
        torch.set_num_threads(1);
        try
        {
            LrmlParameters Run(long seed)
            {
                using var m = new LrmlModel(Small(), 30, 25, seed);
                foreach (var b in Batches(10, 10, 32, 2, 30, 25)) m.TrainStep(b);
                return m.ExportParameters();
            }
            var a = Run(42); var b = Run(42); var c = Run(43);
            Assert.Equal(a.P, b.P); Assert.Equal(a.Q, b.Q); Assert.Equal(a.K, b.K); Assert.Equal(a.M, b.M);
            Assert.NotEqual(a.P, c.P); Assert.NotEqual(a.K, c.K);
        }
        finally { torch.set_num_threads(threads); }
    }

    [Theory]
    [InlineData(1L)]        // one pair per chunk
    [InlineData(3L)]        // 3 users × 1 item
    [InlineData(20L)]       // users chunk of 5, items chunk of 4 over 7 items (uneven)
    [InlineData(LrmlModel.DefaultScoreBudget)]
    public void ScoreAllItemsEqualsScorePairsForEveryPair(long pairsPerChunk)
    {
        var config = Small(norm: NormConstraint.Clip) with { InitScale = 0.5f, NegativeRelation = NegativeRelation.Recompute };
        using var model = new LrmlModel(config, 9, 7, seed: 12);
        model.ScoreBudget = pairsPerChunk == LrmlModel.DefaultScoreBudget ? pairsPerChunk : pairsPerChunk * Math.Max(config.Dim, config.Slots);
        foreach (var b in Batches(13, 3, 8, 1, 9, 7)) model.TrainStep(b);
        int[] users = [4, 0, 8, 4, 2];
        var all = new float[users.Length * 7];
        model.ScoreAllItems(users, all);
        var pu = users.SelectMany(u => Enumerable.Repeat(u, 7)).ToArray();
        var pi = users.SelectMany(_ => Enumerable.Range(0, 7)).ToArray();
        var pairs = new float[pu.Length];
        model.ScorePairs(pu, pi, pairs);
        for (int x = 0; x < pairs.Length; x++) Assert.Equal(pairs[x], all[x], 5);
    }

    [Theory]
    [InlineData(OptimizerKind.Adam)]
    [InlineData(OptimizerKind.LazyAdam)]
    [InlineData(OptimizerKind.Adagrad)]
    [InlineData(OptimizerKind.Sgd)]
    public void SaveLoadRoundTripReproducesScoresAndTheNextStep(OptimizerKind kind)
    {
        var config = Small(kind) with { L2 = 0.01f, GradClipNorm = 5f };
        var batches = Batches(14, 5, 16, 2, 20, 15);
        using var a = new LrmlModel(config, 20, 15, seed: 1);
        for (int s = 0; s < 3; s++) a.TrainStep(batches[s]);
        var state = a.SaveState();
        using var b = new LrmlModel(config, 20, 15, seed: 99);
        b.LoadState(state);
        var sa = new float[3 * 15]; var sb = new float[3 * 15];
        a.ScoreAllItems([0, 7, 19], sa); b.ScoreAllItems([0, 7, 19], sb);
        Assert.Equal(sa, sb);
        for (int s = 3; s < 5; s++) Assert.Equal(a.TrainStep(batches[s]), b.TrainStep(batches[s]));
        var wa = a.ExportParameters(); var wb = b.ExportParameters();
        Assert.Equal(wa.P, wb.P); Assert.Equal(wa.Q, wb.Q); Assert.Equal(wa.K, wb.K); Assert.Equal(wa.M, wb.M);
    }

    [Fact]
    public void LoadStateRejectsAStateOfAnotherShape()
    {
        using var a = new LrmlModel(Small(), 20, 15, seed: 1);
        using var b = new LrmlModel(Small(), 21, 15, seed: 1);
        using var c = new LrmlModel(Small(OptimizerKind.Sgd), 20, 15, seed: 1);
        Assert.Throws<InvalidDataException>(() => b.LoadState(a.SaveState()));
        Assert.Throws<InvalidDataException>(() => c.LoadState(a.SaveState()));
    }

    [Theory]
    [InlineData(OptimizerKind.Adam, NormConstraint.Project)]
    [InlineData(OptimizerKind.LazyAdam, NormConstraint.Clip)]
    public void TrainingAndScoringLeakNoTensors(OptimizerKind kind, NormConstraint norm)
    {
        using var model = new LrmlModel(Small(kind, norm) with { L2 = 0.01f, GradClipValue = 1f, GradClipNorm = 1f }, 20, 15, seed: 2);
        var batches = Batches(15, 50, 16, 2, 20, 15);
        model.TrainStep(batches[0]);                                   // warm-up: lazily created optimiser state
        var scores = new float[2 * 15]; var pair = new float[4];
        model.ScoreAllItems([1, 2], scores); model.ScorePairs([1, 2, 3, 4], [0, 1, 2, 3], pair);
        long live = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        foreach (var b in batches) model.TrainStep(b);
        model.ScoreAllItems([1, 2], scores); model.ScorePairs([1, 2, 3, 4], [0, 1, 2, 3], pair);
        model.ComputeGradients(batches[0]); model.ComputeLoss(batches[1]);
        Assert.Equal(live, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    // ───────────── contract details ─────────────

    [Fact]
    public void DescribeReportsEveryConfigFieldAndTheEngine()
    {
        using var model = new LrmlModel(Small(), 4, 3, seed: 1);
        var d = model.Describe();
        Assert.Equal("torch", d["Engine"]);
        foreach (var prop in typeof(LrmlConfig).GetProperties()) Assert.True(d.ContainsKey(prop.Name), prop.Name);
        Assert.Equal("Clip", d["NormConstraint"]);
        Assert.Equal(0.999, d["AdamBeta2"]);
    }

    [Fact]
    public void BadInputIsRejectedWithAClearError()
    {
        using var model = new LrmlModel(Small(), 4, 3, seed: 1);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => model.TrainStep(Batch([0, 4], [0, 1], [1, 2])));
        Assert.Contains("user index 4", ex.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => model.TrainStep(Batch([0], [0], [3])));
        Assert.Throws<ArgumentException>(() => model.ScoreAllItems([0], new float[2]));
        Assert.Throws<ArgumentException>(() => new LrmlModel(Small() with { Slots = 5 }, LrmlParameters.Initialize(Small(), 4, 3, 1)));
        Assert.Throws<ArgumentException>(() => new LrmlModel(Small(), 4, 3, 1, dtype: ScalarType.Int32));
    }

    [Fact]
    public void ExportedParametersStartFromTheSharedInitialisation()
    {
        var config = Small();
        using var model = new LrmlModel(config, 10, 9, seed: 77);
        var w = model.ExportParameters();
        var expected = LrmlParameters.Initialize(config, 10, 9, 77);
        Assert.Equal(expected.P, w.P); Assert.Equal(expected.Q, w.Q); Assert.Equal(expected.K, w.K); Assert.Equal(expected.M, w.M);
    }
}
