using Lrml.Models;
using Lrml.Fast;
using TorchSharp;
using static Lrml.Tests.Fast.FusedTestData;

namespace Lrml.Tests.Fast;

/// <summary>
/// Parity of the fused engine with the TorchSharp reference <see cref="LrmlModel"/>: same initial
/// parameters, same batches → same losses, gradients, parameters after several steps, scores and
/// explanations (float tolerances). Project-mode cases start inside the unit ball because LrmlModel projects
/// every row once at construction and the fused engine does not (it projects touched rows after each step).
/// </summary>
[Collection("Torch models")]
public class FusedParityTests
{
    public static TheoryData<LrmlDistance, NegativeRelation, NormConstraint, OptimizerKind> GradientCases()
    {
        var data = new TheoryData<LrmlDistance, NegativeRelation, NormConstraint, OptimizerKind>();
        foreach (var dist in Enum.GetValues<LrmlDistance>())
            foreach (var rel in Enum.GetValues<NegativeRelation>())
                foreach (var nc in Enum.GetValues<NormConstraint>())
                    data.Add(dist, rel, nc, rel == NegativeRelation.Reuse ? OptimizerKind.LazyAdam : OptimizerKind.Adam);
        return data;
    }

    [Theory]
    [MemberData(nameof(GradientCases))]
    public void LossAndGradientsMatchTorchFloat64(LrmlDistance dist, NegativeRelation rel, NormConstraint nc, OptimizerKind opt)
    {
        var cfg = Config(dist, rel, nc, l2: 0.2f, opt: opt);
        var p = Params(cfg, stretch: nc != NormConstraint.Project);
        var batch = Batch(2);
        using var torchModel = new LrmlModel(cfg, p, dtype: torch.ScalarType.Float64);
        var (loss, gp, gq, gk, gm) = torchModel.ComputeGradients(batch);
        using var fused = Engine(cfg, p, threads: 2);
        var g = fused.ComputeGradient(batch);
        Assert.Equal(loss, g.Loss, 1e-4 * Math.Abs(loss));
        Close(g.P, gp, 2e-5, 1e-4, "dP"); Close(g.Q, gq, 2e-5, 1e-4, "dQ");
        Close(g.K, gk, 2e-5, 1e-4, "dK"); Close(g.M, gm, 2e-5, 1e-4, "dM");
    }

    public static TheoryData<OptimizerKind, LrmlDistance, NegativeRelation, NormConstraint, float, float, bool> StepCases()
    {
        var data = new TheoryData<OptimizerKind, LrmlDistance, NegativeRelation, NormConstraint, float, float, bool>();
        foreach (var opt in Enum.GetValues<OptimizerKind>())
        {
            data.Add(opt, LrmlDistance.SqrtL2, NegativeRelation.Reuse, NormConstraint.Clip, 0f, 0f, true);
            data.Add(opt, LrmlDistance.SquaredL2, NegativeRelation.Recompute, NormConstraint.Project, 0.1f, 0f, true);
            data.Add(opt, LrmlDistance.L1, NegativeRelation.Reuse, NormConstraint.None, 0.05f, 0.5f, false);
            data.Add(opt, LrmlDistance.SqrtL2, NegativeRelation.Recompute, NormConstraint.Clip, 0.1f, 0.3f, true);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(StepCases))]
    public void TrainingStepsMatchTorch(OptimizerKind opt, LrmlDistance dist, NegativeRelation rel, NormConstraint nc, float l2, float clipNorm, bool trainMemory)
    {
        var cfg = Config(dist, rel, nc, l2, trainMemory, opt, dim: 19, slots: 7) with
        {
            LearningRate = 2e-3f, GradClipValue = clipNorm > 0 ? 0.2f : 0f, GradClipNorm = clipNorm, Margin = 2f,
        };
        var p = Params(cfg, users: 9, items: 11, stretch: nc != NormConstraint.Project);
        if (nc == NormConstraint.Project) p = InsideUnitBall(p);
        using var torchModel = new LrmlModel(cfg, p);
        using var fused = new LrmlFused(cfg, p, new FusedOptions { Threads = 2, ChunkSize = 3 });
        var b = SameSixSteps(torchModel, fused);
        Assert.NotEqual(p.P, b.P);
    }

    /// <summary>Scales P and Q so every row starts inside the unit ball (where LrmlModel's projection at
    /// construction is the identity).</summary>
    private static LrmlParameters InsideUnitBall(LrmlParameters p)
    {
        var c = p.Clone();
        foreach (var t in new[] { c.P, c.Q })
            for (int r = 0; r < t.Length / c.Dim; r++)
            {
                var row = t.AsSpan(r * c.Dim, c.Dim);
                double n = Math.Sqrt(row.ToArray().Sum(v => (double)v * v));
                if (n >= 0.95) for (int j = 0; j < row.Length; j++) row[j] *= (float)(0.9 / n);
            }
        return c;
    }

    [Theory]
    [InlineData(LrmlDistance.SqrtL2, NormConstraint.Clip)]
    [InlineData(LrmlDistance.SquaredL2, NormConstraint.None)]
    [InlineData(LrmlDistance.L1, NormConstraint.Clip)]
    public void ScoresAndExplanationsMatchTorch(LrmlDistance dist, NormConstraint nc)
    {
        var cfg = Config(dist, nc: nc, dim: 19, slots: 7);
        var p = Params(cfg, users: 9, items: 37);
        using var torchModel = new LrmlModel(cfg, p, dtype: torch.ScalarType.Float64);
        using var fused = new LrmlFused(cfg, p, new FusedOptions { Threads = 2 });
        int[] users = [0, 3, 8];
        var ta = new float[3 * 37]; var fa = new float[3 * 37];
        torchModel.ScoreAllItems(users, ta); fused.ScoreAllItems(users, fa);
        Close(fa, ta.Select(x => (double)x).ToArray(), 1e-5, 1e-4, "ScoreAllItems");
        var pu = users.SelectMany(u => Enumerable.Repeat(u, 37)).ToArray();
        var pi = users.SelectMany(_ => Enumerable.Range(0, 37)).ToArray();
        var tp = new float[pu.Length]; var fp = new float[pu.Length];
        torchModel.ScorePairs(pu, pi, tp); fused.ScorePairs(pu, pi, fp);
        Close(fp, tp.Select(x => (double)x).ToArray(), 1e-5, 1e-5, "ScorePairs");
        var tat = new float[pu.Length * 7]; var trel = new float[pu.Length * 19];
        var fat = new float[pu.Length * 7]; var frel = new float[pu.Length * 19];
        torchModel.Explain(pu, pi, tat, trel); fused.Explain(pu, pi, fat, frel);
        Close(fat, tat.Select(x => (double)x).ToArray(), 1e-6, 1e-5, "attention");
        Close(frel, trel.Select(x => (double)x).ToArray(), 1e-6, 1e-5, "relation");
    }
}
