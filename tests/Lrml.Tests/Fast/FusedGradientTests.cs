using Lrml.Models;
using Lrml.Fast;
using static Lrml.Tests.Fast.FusedTestData;

namespace Lrml.Tests.Fast;

/// <summary>Forward, loss and every gradient of the fused engine against the scalar double reference,
/// and the reference against central finite differences.</summary>
public class FusedGradientTests
{
    public static TheoryData<LrmlDistance, NegativeRelation, NormConstraint, float, bool, int> Options()
    {
        var data = new TheoryData<LrmlDistance, NegativeRelation, NormConstraint, float, bool, int>();
        foreach (var dist in Enum.GetValues<LrmlDistance>())
            foreach (var rel in Enum.GetValues<NegativeRelation>())
                foreach (var nc in Enum.GetValues<NormConstraint>())
                {
                    data.Add(dist, rel, nc, 0f, true, 2);
                    data.Add(dist, rel, nc, 0.3f, nc != NormConstraint.Project, rel == NegativeRelation.Reuse ? 1 : 3);
                }
        return data;
    }

    [Theory]
    [MemberData(nameof(Options))]
    public void LossAndGradientsMatchScalarReference(LrmlDistance dist, NegativeRelation rel, NormConstraint nc, float l2, bool trainMemory, int k)
    {
        foreach (var opt in new[] { OptimizerKind.Adam, OptimizerKind.LazyAdam })
        {
            var cfg = Config(dist, rel, nc, l2, trainMemory, opt);
            var p = Params(cfg);
            var batch = Batch(k);
            using var engine = Engine(cfg, p);
            var got = engine.ComputeGradient(batch);
            var (u, pos, neg) = Arrays(batch);
            var reference = new LrmlScalarReference(cfg, p).LossAndGrad(u, pos, neg, k, l2TouchedOnly: opt == OptimizerKind.LazyAdam);
            Assert.True(reference.Loss > 0, "the test batch must have active hinges");
            Assert.Equal(reference.Loss, got.Loss, 1e-4 * Math.Max(1, reference.Loss));
            Close(got.P, reference.P, 2e-5, 1e-4, "dP");
            Close(got.Q, reference.Q, 2e-5, 1e-4, "dQ");
            Close(got.K, reference.K, 2e-5, 1e-4, "dK");
            Close(got.M, reference.M, 2e-5, 1e-4, "dM");
            if (!trainMemory)
            {
                Assert.All(got.K, x => Assert.Equal(0f, x));
                Assert.All(got.M, x => Assert.Equal(0f, x));
            }
        }
    }

    [Theory]
    [MemberData(nameof(Options))]
    public void ReferenceGradientsMatchCentralFiniteDifferences(LrmlDistance dist, NegativeRelation rel, NormConstraint nc, float l2, bool trainMemory, int k)
    {
        var cfg = Config(dist, rel, nc, l2, trainMemory);
        var p = Params(cfg);
        var batch = Batch(k);
        var (u, pos, neg) = Arrays(batch);
        var reference = new LrmlScalarReference(cfg, p);
        var g = reference.LossAndGrad(u, pos, neg, k, l2TouchedOnly: false);
        const double h = 1e-6;
        foreach (var (name, tensor, grad) in new[] { ("P", reference.P, g.P), ("Q", reference.Q, g.Q), ("K", reference.K, g.K), ("M", reference.M, g.M) })
        {
            for (int x = 0; x < tensor.Length; x++)
            {
                double keep = tensor[x];
                tensor[x] = keep + h; double lp = reference.Loss(u, pos, neg, k, false);
                tensor[x] = keep - h; double lm = reference.Loss(u, pos, neg, k, false);
                tensor[x] = keep;
                double fd = (lp - lm) / (2 * h);
                if (!trainMemory && name is "K" or "M") { Assert.Equal(0.0, grad[x]); continue; }
                Assert.True(Math.Abs(fd - grad[x]) <= 1e-5 + 1e-5 * Math.Abs(fd), $"d{name}[{x}]: analytic {grad[x]:R}, finite difference {fd:R}");
            }
        }
    }

    [Theory]
    [InlineData(LrmlDistance.SqrtL2, NegativeRelation.Reuse, NormConstraint.Clip)]
    [InlineData(LrmlDistance.SquaredL2, NegativeRelation.Recompute, NormConstraint.None)]
    [InlineData(LrmlDistance.L1, NegativeRelation.Recompute, NormConstraint.Clip)]
    public void EngineGradientsMatchFloatFiniteDifferencesOfEngineLoss(LrmlDistance dist, NegativeRelation rel, NormConstraint nc)
    {
        // finite differences of the engine's own float loss (h = 2e-3, loose tolerance for float noise)
        var cfg = Config(dist, rel, nc, 0.1f, true, OptimizerKind.Adam);
        var p = Params(cfg);
        var batch = Batch(2);
        using var engine = Engine(cfg, p);
        var g = engine.ComputeGradient(batch);
        const float h = 2e-3f;
        foreach (var (name, get, grad) in new (string, Func<LrmlParameters, float[]>, float[])[] { ("P", q => q.P, g.P), ("Q", q => q.Q, g.Q), ("K", q => q.K, g.K), ("M", q => q.M, g.M) })
        {
            for (int x = 0; x < grad.Length; x++)
            {
                var plus = p.Clone(); get(plus)[x] += h;
                var minus = p.Clone(); get(minus)[x] -= h;
                engine.SetParameters(plus); double lp = engine.ComputeGradient(batch).Loss;
                engine.SetParameters(minus); double lm = engine.ComputeGradient(batch).Loss;
                double fd = (lp - lm) / (2 * h);
                Assert.True(Math.Abs(fd - grad[x]) <= 3e-3 + 2e-2 * Math.Abs(fd), $"d{name}[{x}]: engine {grad[x]:R}, finite difference {fd:R}");
            }
        }
    }

    [Theory]
    [InlineData(NegativeRelation.Reuse)]
    [InlineData(NegativeRelation.Recompute)]
    public void MixedActiveAndInactiveHingesMatchReference(NegativeRelation rel)
    {
        // a small margin leaves some hinges (and some whole examples) inactive: exercises the compaction of
        // attention pairs and the zero-gradient rows that still count as touched
        var cfg = Config(rel: rel, dim: 19, slots: 7) with { Margin = 0.02f };
        var p = Params(cfg, users: 9, items: 11);
        var batch = Batch(3, users: 9, items: 11, count: 40);
        using var engine = Engine(cfg, p, threads: 2, chunk: 16);
        var got = engine.ComputeGradient(batch);
        var (u, pos, neg) = Arrays(batch);
        var r = new LrmlScalarReference(cfg, p).LossAndGrad(u, pos, neg, 3, true);
        Assert.InRange(r.ActiveHinges, 10, r.Hinges - 10);
        Assert.Equal(r.Loss, got.Loss, 1e-4 * r.Loss + 1e-6);
        Close(got.P, r.P, 3e-5, 2e-4, "dP"); Close(got.Q, r.Q, 3e-5, 2e-4, "dQ");
        Close(got.K, r.K, 3e-5, 2e-4, "dK"); Close(got.M, r.M, 3e-5, 2e-4, "dM");
    }

    [Fact]
    public void LossIsSummedOverTheBatch()
    {
        var cfg = Config();
        var p = Params(cfg);
        var batch = Batch(2);
        using var engine = Engine(cfg, p);
        double whole = engine.ComputeGradient(batch).Loss;
        double sum = 0;
        for (int b = 0; b < batch.Count; b++)
        {
            var one = new TrainingBatch(1, 2) { Count = 1 };
            one.Users[0] = batch.Users[b]; one.Positives[0] = batch.Positives[b];
            one.Negatives[0] = batch.Negatives[2 * b]; one.Negatives[1] = batch.Negatives[2 * b + 1];
            sum += engine.ComputeGradient(one).Loss;
        }
        Assert.True(whole > 3, "several active hinges expected");
        Assert.Equal(sum, whole, 1e-5 * whole);
    }

    [Fact]
    public void PaddedWideShapesMatchReference()
    {
        // d not a multiple of any vector width, N above the 4-slot register group, larger batch than a chunk
        var cfg = Config(dim: 19, slots: 7) with { Margin = 3f };
        var p = Params(cfg, users: 9, items: 11);
        var batch = Batch(2, users: 9, items: 11, count: 40);
        using var engine = Engine(cfg, p, threads: 2, chunk: 8);
        var got = engine.ComputeGradient(batch);
        var (u, pos, neg) = Arrays(batch);
        var r = new LrmlScalarReference(cfg, p).LossAndGrad(u, pos, neg, 2, true);
        Assert.Equal(r.Loss, got.Loss, 1e-4 * r.Loss);
        Close(got.P, r.P, 3e-5, 2e-4, "dP"); Close(got.Q, r.Q, 3e-5, 2e-4, "dQ");
        Close(got.K, r.K, 3e-5, 2e-4, "dK"); Close(got.M, r.M, 3e-5, 2e-4, "dM");
    }

    [Fact]
    public void OutOfRangeIndicesAreRejectedWithTheirPosition()
    {
        var cfg = Config();
        using var engine = Engine(cfg, Params(cfg));
        var batch = Batch(1);
        batch.Negatives[3] = Items;
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => engine.TrainStep(batch));
        Assert.Contains("Negatives[3]", e.Message);
        Assert.Equal(0, engine.StepCount);
    }
}
