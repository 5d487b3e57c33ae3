using Lrml.Models;
using Lrml.Util;
using TorchSharp;
using static Lrml.Tests.Models.ModelTestSupport;
using static TorchSharp.torch;

namespace Lrml.Tests.Models;

/// <summary>CML loss, gradients, scores and the unit-ball projection against hand arithmetic.</summary>
[Collection("Torch models")]
public class CmlModelTests
{
    // d = 2, 2 users, 3 items, all inside the unit ball (so the construction-time projection leaves them as is).
    private static readonly float[] TinyP = [0.3f, -0.2f, 0.1f, 0.5f];
    private static readonly float[] TinyQ = [0.2f, 0.1f, -0.4f, 0.3f, 0.6f, -0.5f];

    private static CmlModel Tiny(CmlConfig? config = null, OptimizerKind opt = OptimizerKind.Adam) =>
        new(config ?? new CmlConfig { Dim = 2, Margin = 0.5f, Optimizer = opt }, 2, 3, TinyP, TinyQ, dtype: ScalarType.Float64);

    private static double[] V(float[] t, int row) => [t[row * 2], t[row * 2 + 1]];
    private static double Sq(double[] a, double[] b) => (a[0] - b[0]) * (a[0] - b[0]) + (a[1] - b[1]) * (a[1] - b[1]);

    [Fact]
    public void LossOfTwoActiveTriplesWorkedByHand()
    {
        // u0: ‖p−q0‖² = 0.01 + 0.09 = 0.10, ‖p−q2‖² = 0.09 + 0.09 = 0.18 → 0.5 + 0.10 − 0.18 = 0.42
        // u1: ‖p−q1‖² = 0.25 + 0.04 = 0.29, ‖p−q0‖² = 0.01 + 0.16 = 0.17 → 0.5 + 0.29 − 0.17 = 0.62
        using var model = Tiny();
        Assert.Equal(1.04, model.ComputeGradients(Batch([0, 1], [0, 1], [2, 0])).Loss, 6);
        // the same users with their far negatives: both hinges inactive (−0.14 and −0.46)
        Assert.Equal(0.0, model.ComputeGradients(Batch([0, 1], [0, 1], [1, 2])).Loss, 12);
    }

    [Theory]
    [InlineData(OptimizerKind.Adam, 1)]
    [InlineData(OptimizerKind.Adam, 2)]
    [InlineData(OptimizerKind.LazyAdam, 2)]
    public void HingeGradientsMatchTheAnalyticFormula(OptimizerKind opt, int k)
    {
        var batch = k == 1 ? Batch([0, 1, 0], [0, 1, 1], [2, 0, 2]) : Batch([0, 1, 0], [0, 1, 1], [1, 2, 2, 0, 2, 0]);
        using var model = Tiny(opt: opt);
        var (loss, gp, gq) = model.ComputeGradients(batch);
        double expLoss = 0;
        var ep = new double[4]; var eq = new double[6];
        for (int x = 0; x < batch.Count; x++)
            for (int j = 0; j < k; j++)
            {
                int u = batch.Users[x], ip = batch.Positives[x], ineg = batch.Negatives[x * k + j];
                double[] p = V(TinyP, u), qp = V(TinyQ, ip), qn = V(TinyQ, ineg);
                double arg = 0.5 + Sq(p, qp) - Sq(p, qn);
                if (arg <= 0) continue;
                expLoss += arg;
                for (int c = 0; c < 2; c++)
                {
                    ep[u * 2 + c] += 2 * (qn[c] - qp[c]);
                    eq[ip * 2 + c] += -2 * (p[c] - qp[c]);
                    eq[ineg * 2 + c] += 2 * (p[c] - qn[c]);
                }
            }
        Assert.True(expLoss > 0);
        Assert.Equal(expLoss, loss, 6);
        AssertClose(ep, gp, 1e-6, "dL/dP");
        AssertClose(eq, gq, 1e-6, "dL/dQ");
    }

    [Fact]
    public void CovarianceRegulariserMatchesHandValueAndFiniteDifferences()
    {
        var config = new CmlConfig { Dim = 2, Margin = 0.5f, CovarianceWeight = 0.7f };
        var batch = Batch([0, 1, 0], [0, 1, 2], [2, 0, 1]);
        using var model = Tiny(config);
        // hand: X = [p_u; q_i⁺] (6 rows), C = XcᵀXc/6, L_c = λ_c·(Σ_{a≠b} C_ab²)/6
        var rows = batch.Users.Select(u => V(TinyP, u)).Concat(batch.Positives.Select(i => V(TinyQ, i))).ToArray();
        double n = rows.Length;
        double[] mu = [rows.Average(r => r[0]), rows.Average(r => r[1])];
        double c01 = rows.Sum(r => (r[0] - mu[0]) * (r[1] - mu[1])) / n;
        double cov = (double)config.CovarianceWeight * (2 * c01 * c01) / n;
        double hinge = 0;
        for (int x = 0; x < 3; x++)
        {
            var p = V(TinyP, batch.Users[x]);
            hinge += Math.Max(0, 0.5 + Sq(p, V(TinyQ, batch.Positives[x])) - Sq(p, V(TinyQ, batch.Negatives[x])));
        }
        Assert.True(cov > 1e-4);
        var (loss, gp, gq) = model.ComputeGradients(batch);
        Assert.Equal(hinge + cov, loss, 10);
        Func<double> f = () => model.ComputeGradients(batch).Loss;
        AssertClose(FiniteDifferences(model.P, f), gp, 1e-6, "dL/dP");
        AssertClose(FiniteDifferences(model.Q, f), gq, 1e-6, "dL/dQ");
    }

    [Fact]
    public void ScoreIsNegativeSquaredDistanceAndScoreAllMatchesPairs()
    {
        using var model = Tiny();
        var s = new float[2];
        model.ScorePairs([0, 1], [2, 1], s);
        Assert.Equal(-0.18, s[0], 1e-6);
        Assert.Equal(-0.29, s[1], 1e-6);
        model.ScoreBudget = 2 * 2;                                   // 2 pairs per chunk
        var all = new float[2 * 3];
        model.ScoreAllItems([1, 0], all);
        var pairs = new float[6];
        model.ScorePairs([1, 1, 1, 0, 0, 0], [0, 1, 2, 0, 1, 2], pairs);
        Assert.Equal(pairs, all);
    }

    [Theory]
    [InlineData(OptimizerKind.Adam)]
    [InlineData(OptimizerKind.Adagrad)]
    [InlineData(OptimizerKind.LazyAdam)]
    public void ProjectionKeepsEveryStoredRowInTheUnitBall(OptimizerKind opt)
    {
        var config = new CmlConfig { Dim = 6, Margin = 1f, LearningRate = 0.5f, InitStd = 1f, Optimizer = opt };
        using var model = new CmlModel(config, 12, 10, seed: 3);
        var (u0, i0) = model.ExportEmbeddings();
        Assert.True(MaxNorm(u0, 6) <= 1 + 1e-6);                   // σ = 1 draws rows of norm ≈ √6: projected at construction
        var rng = new Rng(4, "cml.batches");
        for (int s = 0; s < 20; s++) model.TrainStep(RandomBatch(rng, 16, 2, 12, 10));
        var (u, i) = model.ExportEmbeddings();
        Assert.True(MaxNorm(u, 6) <= 1 + 1e-6, $"max user norm {MaxNorm(u, 6)}");
        Assert.True(MaxNorm(i, 6) <= 1 + 1e-6, $"max item norm {MaxNorm(i, 6)}");
        Assert.True(Math.Max(MaxNorm(u, 6), MaxNorm(i, 6)) > 0.999);   // the constraint is binding
    }

    private static double MaxNorm(float[] t, int d) => Enumerable.Range(0, t.Length / d).Max(r => Norm(t.AsSpan(r * d, d)));

    [Fact]
    public void SaveLoadRoundTripReproducesScoresAndTheNextStep()
    {
        var config = new CmlConfig { Dim = 4, CovarianceWeight = 0.1f };
        var rng = new Rng(5, "cml.state");
        var batches = Enumerable.Range(0, 5).Select(_ => RandomBatch(rng, 8, 1, 9, 7)).ToArray();
        using var a = new CmlModel(config, 9, 7, seed: 1);
        for (int s = 0; s < 3; s++) a.TrainStep(batches[s]);
        using var b = new CmlModel(config, 9, 7, seed: 2);
        b.LoadState(a.SaveState());
        var sa = new float[2 * 7]; var sb = new float[2 * 7];
        a.ScoreAllItems([3, 8], sa); b.ScoreAllItems([3, 8], sb);
        Assert.Equal(sa, sb);
        for (int s = 3; s < 5; s++) Assert.Equal(a.TrainStep(batches[s]), b.TrainStep(batches[s]));
        Assert.Equal(a.ExportEmbeddings().Users, b.ExportEmbeddings().Users);
        Assert.Throws<InvalidDataException>(() => new CmlModel(config with { Dim = 5 }, 9, 7, seed: 1).LoadState(a.SaveState()));
    }

    [Fact]
    public void InitialisationUsesStdOneOverRootDByDefault()
    {
        using var model = new CmlModel(new CmlConfig { Dim = 400 }, 50, 2, seed: 8);
        var (u, _) = model.ExportEmbeddings();
        // σ = 1/√400 = 0.05 → row norms ≈ 1 before the projection, so std of the entries stays ≈ 0.05 (≤ after clip)
        double std = Math.Sqrt(u.Average(v => (double)v * v));
        Assert.InRange(std, 0.045, 0.0501);
        Assert.Equal(0.05f, (float)model.Describe()["InitStd"]!, 1e-6f);
    }

    [Fact]
    public void TrainingLeaksNoTensors()
    {
        using var model = new CmlModel(new CmlConfig { Dim = 4, CovarianceWeight = 0.1f }, 9, 7, seed: 1);
        var rng = new Rng(6, "cml.leak");
        model.TrainStep(RandomBatch(rng, 8, 2, 9, 7));
        long live = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int s = 0; s < 50; s++) model.TrainStep(RandomBatch(rng, 8, 2, 9, 7));
        model.ScoreAllItems([1, 2], new float[14]);
        Assert.Equal(live, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }
}
