using Lrml.Models;
using Lrml.Fast;
using Lrml.Util;

namespace Lrml.Tests.Fast;

/// <summary>Tiny shapes and batches shared by the fused-engine tests.</summary>
internal static class FusedTestData
{
    public const int Users = 5, Items = 7;

    /// <summary>Seeded parameters with a wide init (σ = 0.45) and users 1, items 2 scaled to norm ≈ 1.8, so
    /// the clip branch (‖x‖ ≥ 1) and the identity branch are both exercised.</summary>
    public static LrmlParameters Params(LrmlConfig cfg, long seed = 11, int users = Users, int items = Items, bool stretch = true)
    {
        var p = LrmlParameters.Initialize(cfg with { InitScale = 0.45f }, users, items, seed);
        if (stretch)
        {
            Stretch(p.P, 1 % users, cfg.Dim, 1.8);
            Stretch(p.Q, 2 % items, cfg.Dim, 1.8);
        }
        if (cfg.NormConstraint == NormConstraint.Project)
        {
            // both engines start Project runs with every stored row inside the unit ball
            for (int r = 0; r < users; r++) IntoBall(p.P, r, cfg.Dim);
            for (int r = 0; r < items; r++) IntoBall(p.Q, r, cfg.Dim);
        }
        for (int x = 0; x < p.K.Length; x++) p.K[x] *= 8f; // sharper attention, stronger memory gradients
        for (int x = 0; x < p.M.Length; x++) p.M[x] *= 3f;
        return p;
    }

    private static void IntoBall(float[] t, int row, int d)
    {
        double n = 0;
        for (int j = 0; j < d; j++) n += t[row * d + j] * t[row * d + j];
        n = Math.Sqrt(n);
        if (n > 1) for (int j = 0; j < d; j++) t[row * d + j] = (float)(t[row * d + j] / n);
    }

    private static void Stretch(float[] t, int row, int d, double norm)
    {
        double n = 0;
        for (int j = 0; j < d; j++) n += t[row * d + j] * t[row * d + j];
        float f = (float)(norm / Math.Sqrt(n));
        for (int j = 0; j < d; j++) t[row * d + j] *= f;
    }

    /// <summary>A batch of 6 positives with k negatives; user 0 and item 3 repeat (duplicate-row summing).</summary>
    public static TrainingBatch Batch(int k, long seed = 5, int users = Users, int items = Items, int count = 6)
    {
        var rng = new Rng(seed, "test.batch");
        var batch = new TrainingBatch(count + 2, k) { Count = count };
        for (int b = 0; b < count; b++)
        {
            batch.Users[b] = b == 0 || b == 3 ? 0 : rng.NextInt(users);
            batch.Positives[b] = b % 2 == 0 ? 3 % items : rng.NextInt(items);
            for (int j = 0; j < k; j++) batch.Negatives[b * k + j] = rng.NextInt(items);
        }
        return batch;
    }

    public static (int[] u, int[] p, int[] n) Arrays(TrainingBatch b) =>
        (b.Users[..b.Count], b.Positives[..b.Count], b.Negatives[..(b.Count * b.NegativesPerPositive)]);

    public static LrmlConfig Config(LrmlDistance dist = LrmlDistance.SqrtL2, NegativeRelation rel = NegativeRelation.Reuse,
        NormConstraint nc = NormConstraint.Clip, float l2 = 0f, bool trainMemory = true, OptimizerKind opt = OptimizerKind.LazyAdam,
        int dim = 6, int slots = 3) => new()
        {
            Dim = dim, Slots = slots, Margin = 1.5f, Distance = dist, NegativeRelation = rel, NormConstraint = nc,
            L2 = l2, TrainMemory = trainMemory, Optimizer = opt, LearningRate = 0.01f,
        };

    public static LrmlFused Engine(LrmlConfig cfg, LrmlParameters p, int threads = 1, int chunk = 64) =>
        new(cfg, p, new FusedOptions { Threads = threads, ChunkSize = chunk });

    /// <summary>Trains both engines six steps on the same 8-example batches (9 users, 11 items) and asserts equal losses
    /// and equal parameters afterwards; returns the fused engine's parameters.</summary>
    public static LrmlParameters SameSixSteps(LrmlModel torchModel, LrmlFused fused)
    {
        for (int t = 0; t < 6; t++)
        {
            var batch = Batch(2, seed: 50 + t, users: 9, items: 11, count: 8);
            double lt = torchModel.TrainStep(batch), lf = fused.TrainStep(batch);
            Assert.True(Math.Abs(lt - lf) <= 1e-4 * Math.Abs(lt) + 1e-5, $"step {t}: torch loss {lt:R}, fused {lf:R}");
        }
        var a = torchModel.ExportParameters(); var b = fused.ExportParameters();
        Close(b.P, a.P.Select(x => (double)x).ToArray(), 5e-5, 1e-3, "P");
        Close(b.Q, a.Q.Select(x => (double)x).ToArray(), 5e-5, 1e-3, "Q");
        Close(b.K, a.K.Select(x => (double)x).ToArray(), 5e-5, 1e-3, "K");
        Close(b.M, a.M.Select(x => (double)x).ToArray(), 5e-5, 1e-3, "M");
        return b;
    }

    /// <summary>|a − b| ≤ atol + rtol·|b| elementwise, with a message naming the first failure.</summary>
    public static void Close(ReadOnlySpan<float> actual, ReadOnlySpan<double> expected, double atol, double rtol, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int x = 0; x < expected.Length; x++)
        {
            double diff = Math.Abs(actual[x] - expected[x]);
            if (!(diff <= atol + rtol * Math.Abs(expected[x])))
                Assert.Fail($"{what}[{x}]: got {actual[x]:R}, expected {expected[x]:R} (|Δ| = {diff:E2})");
        }
    }
}
