using Lrml.Models;
using Lrml.Fast;
using Lrml.Util;
using static Lrml.Tests.Fast.FusedTestData;

namespace Lrml.Tests.Fast;

/// <summary>Optimiser semantics of the fused engine against hand-computed updates.</summary>
public class FusedOptimizerTests
{
    private const double B1 = 0.9, B2 = 0.999, Eps = 1e-8;

    /// <summary>Batch over users {0,1,2} and items {0..4} only: users 3, 4 and items 5, 6 stay untouched.</summary>
    private static TrainingBatch Restricted(int k, long seed, int touchUsers = 3, int touchItems = 5)
    {
        var rng = new Rng(seed, "test.restricted");
        var b = new TrainingBatch(6, k) { Count = 6 };
        for (int x = 0; x < 6; x++)
        {
            b.Users[x] = x % 2 == 0 ? 0 : rng.NextInt(touchUsers);
            b.Positives[x] = rng.NextInt(touchItems);
            for (int j = 0; j < k; j++) b.Negatives[x * k + j] = rng.NextInt(touchItems);
        }
        return b;
    }

    private static HashSet<int> TouchedItems(TrainingBatch b) =>
        b.Positives[..b.Count].Concat(b.Negatives[..(b.Count * b.NegativesPerPositive)]).ToHashSet();

    private sealed class HandAdam(int length)
    {
        public readonly double[] M = new double[length], V = new double[length];
    }

    [Theory]
    [InlineData(0f)]
    [InlineData(0.2f)]
    public void LazyAdamUpdatesTouchedRowsLikeSparseAdamAndLeavesOthersBitIdentical(float l2)
    {
        var cfg = Config(l2: l2, opt: OptimizerKind.LazyAdam);
        var p0 = Params(cfg);
        using var engine = Engine(cfg, p0);
        var hand = new[] { new HandAdam(p0.P.Length), new HandAdam(p0.Q.Length), new HandAdam(p0.K.Length), new HandAdam(p0.M.Length) };
        for (int t = 1; t <= 3; t++)
        {
            var batch = Restricted(2, seed: t, touchUsers: t == 2 ? 2 : 3);
            var before = engine.ExportParameters();
            var (u, pos, neg) = Arrays(batch);
            var g = new LrmlScalarReference(cfg, before).LossAndGrad(u, pos, neg, 2, l2TouchedOnly: true);
            double loss = engine.TrainStep(batch);
            Assert.Equal(g.Loss, loss, 1e-4 * g.Loss);
            var after = engine.ExportParameters();
            var tu = u.ToHashSet(); var ti = TouchedItems(batch);
            double lazyStep = cfg.LearningRate * Math.Sqrt(1 - Math.Pow(B2, t)) / (1 - Math.Pow(B1, t));
            for (int which = 0; which < 2; which++)
            {
                var (b0, a0, gr, h, rows, touched) = which == 0
                    ? (before.P, after.P, g.P, hand[0], FusedTestData.Users, tu)
                    : (before.Q, after.Q, g.Q, hand[1], FusedTestData.Items, ti);
                for (int r = 0; r < rows; r++)
                    for (int j = 0; j < cfg.Dim; j++)
                    {
                        int x = r * cfg.Dim + j;
                        if (!touched.Contains(r)) { Assert.Equal(b0[x], a0[x]); continue; }
                        h.M[x] = B1 * h.M[x] + (1 - B1) * gr[x];
                        h.V[x] = B2 * h.V[x] + (1 - B2) * gr[x] * gr[x];
                        double expected = b0[x] - lazyStep * h.M[x] / (Math.Sqrt(h.V[x]) + Eps);
                        Assert.True(Math.Abs(a0[x] - expected) < 2e-5, $"step {t} {(which == 0 ? "P" : "Q")}[{r},{j}]: {a0[x]} vs {expected}");
                    }
            }
            // K and M: full dense Adam
            CheckDenseAdam(before.K, after.K, g.K, hand[2], t, cfg.LearningRate, "K");
            CheckDenseAdam(before.M, after.M, g.M, hand[3], t, cfg.LearningRate, "M");
        }
        Assert.Equal(3, engine.StepCount);
    }

    private static void CheckDenseAdam(float[] before, float[] after, double[] grad, HandAdam h, int t, float lr, string name)
    {
        double step = lr / (1 - Math.Pow(B1, t)), bc2 = Math.Sqrt(1 - Math.Pow(B2, t));
        for (int x = 0; x < before.Length; x++)
        {
            h.M[x] = B1 * h.M[x] + (1 - B1) * grad[x];
            h.V[x] = B2 * h.V[x] + (1 - B2) * grad[x] * grad[x];
            double expected = before[x] - step * h.M[x] / (Math.Sqrt(h.V[x]) / bc2 + Eps);
            Assert.True(Math.Abs(after[x] - expected) < 2e-5, $"step {t} {name}[{x}]: {after[x]} vs {expected}");
        }
    }

    [Theory]
    [InlineData(0f)]
    [InlineData(0.2f)]
    public void DenseAdamMovesEveryRowWithMomentumExactlyAsPyTorchAdam(float l2)
    {
        var cfg = Config(l2: l2, opt: OptimizerKind.Adam);
        var p0 = Params(cfg);
        using var engine = Engine(cfg, p0, threads: 2);
        var hand = new[] { new HandAdam(p0.P.Length), new HandAdam(p0.Q.Length), new HandAdam(p0.K.Length), new HandAdam(p0.M.Length) };
        float[]? user2AfterStep1 = null;
        for (int t = 1; t <= 3; t++)
        {
            // step 2 touches users {0, 1} only: user 2 (touched at step 1) must still move by momentum
            var batch = Restricted(2, seed: t, touchUsers: t == 2 ? 2 : 3);
            if (t == 1) batch.Users[1] = 2;
            var before = engine.ExportParameters();
            var (u, pos, neg) = Arrays(batch);
            var g = new LrmlScalarReference(cfg, before).LossAndGrad(u, pos, neg, 2, l2TouchedOnly: false);
            double loss = engine.TrainStep(batch);
            Assert.Equal(g.Loss, loss, 1e-4 * g.Loss);
            var after = engine.ExportParameters();
            CheckDenseAdam(before.P, after.P, g.P, hand[0], t, cfg.LearningRate, "P");
            CheckDenseAdam(before.Q, after.Q, g.Q, hand[1], t, cfg.LearningRate, "Q");
            CheckDenseAdam(before.K, after.K, g.K, hand[2], t, cfg.LearningRate, "K");
            CheckDenseAdam(before.M, after.M, g.M, hand[3], t, cfg.LearningRate, "M");
            if (t == 1) user2AfterStep1 = after.P[(2 * cfg.Dim)..(3 * cfg.Dim)];
            if (t == 2)
            {
                Assert.DoesNotContain(2, u);
                Assert.NotEqual(user2AfterStep1!, after.P[(2 * cfg.Dim)..(3 * cfg.Dim)]);
            }
        }
    }

    [Theory]
    [InlineData(OptimizerKind.Sgd, 0f)]
    [InlineData(OptimizerKind.Sgd, 0.2f)]
    [InlineData(OptimizerKind.Adagrad, 0f)]
    [InlineData(OptimizerKind.Adagrad, 0.2f)]
    public void SgdAndAdagradFollowTheirRules(OptimizerKind opt, float l2)
    {
        var cfg = Config(l2: l2, opt: opt);
        var p0 = Params(cfg);
        using var engine = Engine(cfg, p0);
        var sum = new[] { new double[p0.P.Length], new double[p0.Q.Length], new double[p0.K.Length], new double[p0.M.Length] };
        for (int t = 1; t <= 2; t++)
        {
            var batch = Restricted(1, seed: 10 + t);
            var before = engine.ExportParameters();
            var (u, pos, neg) = Arrays(batch);
            var g = new LrmlScalarReference(cfg, before).LossAndGrad(u, pos, neg, 1, l2TouchedOnly: false);
            engine.TrainStep(batch);
            var after = engine.ExportParameters();
            var tensors = new[] { (before.P, after.P, g.P), (before.Q, after.Q, g.Q), (before.K, after.K, g.K), (before.M, after.M, g.M) };
            for (int w = 0; w < 4; w++)
            {
                var (b0, a0, gr) = tensors[w];
                for (int x = 0; x < b0.Length; x++)
                {
                    double expected;
                    if (opt == OptimizerKind.Sgd) expected = b0[x] - cfg.LearningRate * gr[x];
                    else
                    {
                        sum[w][x] += gr[x] * gr[x];
                        expected = b0[x] - cfg.LearningRate * gr[x] / (Math.Sqrt(sum[w][x]) + 1e-10);
                    }
                    if (gr[x] == 0) Assert.Equal(b0[x], a0[x]); // zero-gradient rows do not move (row-sparse path is exact)
                    Assert.True(Math.Abs(a0[x] - expected) < 2e-5, $"step {t} tensor {w}[{x}]: {a0[x]} vs {expected}");
                }
            }
        }
    }

    [Theory]
    [InlineData(0f)]
    [InlineData(0.5f)]
    public void GradientClippingIsValueThenNormPerTensor(float l2)
    {
        // SGD exposes the clipped gradient: θ' = θ − lr·clip(g)
        var cfg = Config(l2: l2, opt: OptimizerKind.Sgd) with { GradClipValue = 0.3f, GradClipNorm = 0.8f };
        var p0 = Params(cfg);
        using var engine = Engine(cfg, p0);
        var batch = Restricted(2, seed: 3);
        var (u, pos, neg) = Arrays(batch);
        var g = new LrmlScalarReference(cfg, p0).LossAndGrad(u, pos, neg, 2, l2TouchedOnly: false);
        engine.TrainStep(batch);
        var after = engine.ExportParameters();
        int clippedTensors = 0;
        foreach (var (b0, a0, gr) in new[] { (p0.P, after.P, g.P), (p0.Q, after.Q, g.Q), (p0.K, after.K, g.K), (p0.M, after.M, g.M) })
        {
            var c = gr.Select(v => Math.Clamp(v, -0.3, 0.3)).ToArray();
            double norm = Math.Sqrt(c.Sum(v => v * v));
            if (norm > 0.8) { clippedTensors++; for (int x = 0; x < c.Length; x++) c[x] *= 0.8 / norm; }
            for (int x = 0; x < c.Length; x++)
                Assert.True(Math.Abs(a0[x] - (b0[x] - cfg.LearningRate * c[x])) < 1e-6, $"[{x}] {a0[x]} vs {b0[x] - cfg.LearningRate * c[x]}");
        }
        Assert.True(clippedTensors >= 2, "the test must exercise the norm clip");
    }

    [Fact]
    public void ProjectKeepsTouchedStoredRowsInTheUnitBallAndLeavesOthers()
    {
        var cfg = Config(nc: NormConstraint.Project, opt: OptimizerKind.LazyAdam) with { LearningRate = 0.05f };
        var p0 = Params(cfg with { NormConstraint = NormConstraint.Clip }); // unprojected: rows outside the ball
        // user 1 and item 2 start at norm 1.8; item 6 is stretched too and never touched
        var q6 = p0.Q.AsSpan(6 * cfg.Dim, cfg.Dim);
        for (int j = 0; j < cfg.Dim; j++) q6[j] *= 4f;
        var stretchedP1 = Math.Sqrt(p0.P.AsSpan(cfg.Dim, cfg.Dim).ToArray().Sum(v => (double)v * v));
        Assert.True(stretchedP1 > 1.5, "the test starts a row outside the ball");
        using var engine = Engine(cfg, p0);
        var start = engine.ExportParameters();
        double Norm(float[] t, int r) => Math.Sqrt(t.AsSpan(r * cfg.Dim, cfg.Dim).ToArray().Sum(v => (double)v * v));
        Assert.InRange(Norm(start.P, 1), 0.999, 1.000001);  // projected onto the sphere at construction
        Assert.InRange(Norm(start.Q, 6), 0.999, 1.000001);
        var batch = Restricted(2, seed: 1);
        batch.Users[1] = 1; batch.Positives[1] = 2;
        engine.TrainStep(batch);
        var after = engine.ExportParameters();
        foreach (int r in batch.Users[..6].Distinct()) Assert.True(Norm(after.P, r) <= 1 + 1e-6, $"user {r}: {Norm(after.P, r)}");
        foreach (int r in TouchedItems(batch)) Assert.True(Norm(after.Q, r) <= 1 + 1e-6, $"item {r}: {Norm(after.Q, r)}");
        Assert.Equal(start.Q.AsSpan(6 * cfg.Dim, cfg.Dim).ToArray(), after.Q.AsSpan(6 * cfg.Dim, cfg.Dim).ToArray()); // untouched
    }

    [Fact]
    public void ClipUsesEffectiveVectorsInsideTheUnitBall()
    {
        var cfg = Config(nc: NormConstraint.Clip);
        var p = Params(cfg);
        using var engine = Engine(cfg, p);
        int[] users = [1, 1, 0]; int[] items = [2, 4, 2];
        var before = new float[3]; engine.ScorePairs(users, items, before);
        var attBefore = new float[3 * cfg.Slots]; var relBefore = new float[3 * cfg.Dim];
        engine.Explain(users, items, attBefore, relBefore);
        // stretching rows that are already outside the ball changes nothing: the graph sees x/‖x‖
        var stretched = p.Clone();
        for (int j = 0; j < cfg.Dim; j++) { stretched.P[cfg.Dim + j] *= 3f; stretched.Q[2 * cfg.Dim + j] *= 2f; }
        engine.SetParameters(stretched);
        var after = new float[3]; engine.ScorePairs(users, items, after);
        var attAfter = new float[3 * cfg.Slots]; var relAfter = new float[3 * cfg.Dim];
        engine.Explain(users, items, attAfter, relAfter);
        for (int x = 0; x < 3; x++) Assert.Equal(before[x], after[x], 1e-5f);
        for (int x = 0; x < attBefore.Length; x++) Assert.Equal(attBefore[x], attAfter[x], 1e-5f);
        for (int x = 0; x < relBefore.Length; x++) Assert.Equal(relBefore[x], relAfter[x], 1e-5f);
        // the stored rows keep their norms (clip happens in the graph only)
        Assert.True(engine.ExportParameters().P.AsSpan(cfg.Dim, cfg.Dim).ToArray().Sum(v => v * v) > 20);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void MemoryTrainsOrStaysFrozen(bool trainMemory)
    {
        var cfg = Config(trainMemory: trainMemory, opt: OptimizerKind.LazyAdam, l2: 0.1f);
        var p0 = Params(cfg);
        using var engine = Engine(cfg, p0);
        for (int t = 0; t < 3; t++) engine.TrainStep(Batch(2, seed: t));
        var after = engine.ExportParameters();
        if (trainMemory)
        {
            Assert.All(Enumerable.Range(0, p0.K.Length), x => Assert.NotEqual(p0.K[x], after.K[x]));
            Assert.All(Enumerable.Range(0, p0.M.Length), x => Assert.NotEqual(p0.M[x], after.M[x]));
        }
        else
        {
            Assert.Equal(p0.K, after.K);
            Assert.Equal(p0.M, after.M);
        }
        Assert.NotEqual(p0.P, after.P);
    }
    [Theory]
    [InlineData(OptimizerKind.Sgd)]
    [InlineData(OptimizerKind.Adagrad)]
    [InlineData(OptimizerKind.Adam)]
    [InlineData(OptimizerKind.LazyAdam)]
    public void AnUnpaddedLengthStepsEveryFloatAsTheVectorLoopAndNothingBeyond(OptimizerKind kind)
    {
        // a TransCF lazy row of d floats is not a whole number of vectors: the part after the last vector must get the
        // vectors' arithmetic bit for bit, and the floats after the row (the next row) must stay untouched. 400 rows of
        // 2 vectors + 3 floats at a large learning rate, so a differently rounded tail would show in many of the 1,200 tail floats.
        // On an AVX-512 machine with 8-float Vector<T> the first 16 floats go through Step's 512-bit lanes: pinned here too.
        int vw = System.Numerics.Vector<float>.Count, len = 2 * vw + 3, padded = 3 * vw;
        var rng = new Rng(8, "test.step.tail");
        var f = StepFactors.At(0.5f, 3);
        int moved = 0;
        for (int row = 0; row < 400; row++)
        {
            float[] R() => Enumerable.Range(0, padded).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
            float[] w = R(), m1 = R(), m2 = R().Select(Math.Abs).ToArray(), g = R();
            var (wa, m1a, m2a) = ((float[])w.Clone(), (float[])m1.Clone(), (float[])m2.Clone());
            var (wb, m1b, m2b) = ((float[])w.Clone(), (float[])m1.Clone(), (float[])m2.Clone());
            // reference: every float in its own vector lane (one whole vector per float)
            for (int x = 0; x < len; x++)
            {
                float[] W = new float[vw], M1 = new float[vw], M2 = new float[vw], G = new float[vw];
                W[0] = w[x]; M1[0] = m1[x]; M2[0] = m2[x]; G[0] = g[x];
                EmbeddingEngine.Step(kind, f, ref W[0], ref M1[0], ref M2[0], ref G[0], vw);
                wa[x] = W[0]; m1a[x] = M1[0]; m2a[x] = M2[0];
            }
            EmbeddingEngine.Step(kind, f, ref wb[0], ref m1b[0], ref m2b[0], ref g[0], len);
            int[] B(float[] v) => v.Select(BitConverter.SingleToInt32Bits).ToArray();
            Assert.Equal(B(wa), B(wb));   // the floats after len too: untouched
            if (kind != OptimizerKind.Sgd) Assert.Equal(B(m2a), B(m2b));
            if (kind is OptimizerKind.Adam or OptimizerKind.LazyAdam) Assert.Equal(B(m1a), B(m1b));
            for (int x = vw * 2; x < len; x++) if (wb[x] != w[x]) moved++;
        }
        Assert.True(moved > 1000, $"the tail floats must move ({moved} of 1,200 did)");
    }
}
