using Lrml.Models;
using Lrml.Protocols;
using Lrml.Util;
using TorchSharp;
using static Lrml.Tests.Models.ModelTestSupport;
using static TorchSharp.torch;

namespace Lrml.Tests.Models;

/// <summary>CML with WARP-style rank weighting (Hsieh et al. §3.3): weights log(1 + ⌊J·M/U⌋) from U sampled negatives,
/// the closest-negative and batch hinges, gradients worked by hand, sampler state, and the default staying off.</summary>
[Collection("Torch models")]
public class CmlWarpTests
{
    // d = 2, 2 users, 5 items, all inside the unit ball. Training positives: u0 = {0}, u1 = {1}.
    private static readonly float[] TinyP = [0.3f, -0.2f, 0.1f, 0.5f];
    private static readonly float[] TinyQ = [0.2f, 0.1f, -0.4f, 0.3f, 0.6f, -0.5f, 0.25f, -0.1f, -0.3f, 0.6f];
    private static readonly UserItems Positives = UserItems.FromLists(5, [[0], [1]]);

    private static CmlModel Tiny(CmlWarpHinge hinge, int u = 4, float margin = 0.5f) =>
        new(new CmlConfig { Dim = 2, Margin = margin, RankWeighting = CmlRankWeighting.Warp, WarpNegatives = u, WarpHinge = hinge },
            2, 5, TinyP, TinyQ, dtype: ScalarType.Float64, positives: Positives, seed: 11);

    private static double[] V(float[] t, int r) => [t[2 * r], t[2 * r + 1]];
    private static double Sq(double[] a, double[] b) => (a[0] - b[0]) * (a[0] - b[0]) + (a[1] - b[1]) * (a[1] - b[1]);

    [Theory]
    [InlineData(CmlWarpHinge.Closest)]
    [InlineData(CmlWarpHinge.Batch)]
    public void LossAndGradientsFollowTheWarpFormula(CmlWarpHinge hinge)
    {
        const int U = 4, J = 5;
        const double m = 0.5;
        var batch = Batch([0, 1, 0], [0, 1, 0], [2, 3, 4, 0, 3, 2]);       // k = 2
        using var model = Tiny(hinge, U);
        var (loss, gp, gq) = model.ComputeGradients(batch);
        var drawn = model.LastWarpNegatives!;
        Assert.Equal(3 * U, drawn.Length);
        double expected = 0;
        var ep = new double[4]; var eq = new double[10];
        bool anyWeighted = false;
        for (int x = 0; x < 3; x++)
        {
            int u = batch.Users[x], ip = batch.Positives[x];
            double[] p = V(TinyP, u), qp = V(TinyQ, ip);
            double dPos = Sq(p, qp);
            var sampled = drawn.Skip(x * U).Take(U).ToArray();
            Assert.All(sampled, j => Assert.False(Positives.Contains(u, j)));   // never a training positive
            int impostors = sampled.Count(j => m + dPos - Sq(p, V(TinyQ, j)) > 0);
            double w = Math.Log(1 + Math.Floor((double)J * impostors / U));
            anyWeighted |= w > 0;
            var hingeNegs = hinge == CmlWarpHinge.Closest
                ? [sampled.OrderBy(j => Sq(p, V(TinyQ, j))).First()]
                : batch.Negatives.Skip(2 * x).Take(2).ToArray();
            foreach (int j in hingeNegs)
            {
                double[] qn = V(TinyQ, j);
                double arg = m + dPos - Sq(p, qn);
                if (arg <= 0) continue;
                expected += w * arg;
                for (int c = 0; c < 2; c++)
                {
                    ep[u * 2 + c] += w * 2 * (qn[c] - qp[c]);
                    eq[ip * 2 + c] += -w * 2 * (p[c] - qp[c]);
                    eq[j * 2 + c] += w * 2 * (p[c] - qn[c]);
                }
            }
        }
        Assert.True(anyWeighted, "the tiny case must exercise a non-zero weight");
        Assert.Equal(expected, loss, 8);
        AssertClose(ep, gp, 1e-8, "dL/dP");
        AssertClose(eq, gq, 1e-8, "dL/dQ");
    }

    [Fact]
    public void NoImpostorMeansRankZeroAndNoLossEvenWithActiveBatchHinges()
    {
        // u0's training positives are {0, 3}, so WARP samples among {1, 2, 4}. Batch: positive 2 (d² = 0.18), negative 3
        // (d² = 0.0125): the batch hinge 0 + 0.18 − 0.0125 is active at margin 0, but no sampled item is closer than item 2
        // (d² 0.74, 0.18, 1.0; equality is no impostor), so M = 0, w = log(1 + 0) = 0 and the loss is 0.
        var positives = UserItems.FromLists(5, [[0, 3], [1]]);
        using var model = new CmlModel(new CmlConfig { Dim = 2, Margin = 0f, RankWeighting = CmlRankWeighting.Warp, WarpNegatives = 6, WarpHinge = CmlWarpHinge.Batch },
            2, 5, TinyP, TinyQ, dtype: ScalarType.Float64, positives: positives, seed: 3);
        var batch = Batch([0], [2], [3]);
        var (loss, gp, _) = model.ComputeGradients(batch);
        Assert.All(model.LastWarpNegatives!, j => Assert.Contains(j, new[] { 1, 2, 4 }));
        Assert.Equal(0.0, loss, 12);
        Assert.All(gp, g => Assert.Equal(0.0, g, 12));
        using var plain = new CmlModel(new CmlConfig { Dim = 2, Margin = 0f }, 2, 5, TinyP, TinyQ, dtype: ScalarType.Float64);
        Assert.Equal(0.18 - 0.0125, plain.ComputeGradients(batch).Loss, 6);   // the same hinge without WARP
    }

    [Fact]
    public void WarpIsOffByDefaultAndNeedsTheTrainingPositives()
    {
        Assert.Equal(CmlRankWeighting.None, new CmlConfig().RankWeighting);
        Assert.Throws<ArgumentException>(() => new CmlModel(new CmlConfig { Dim = 2, RankWeighting = CmlRankWeighting.Warp }, 2, 5, seed: 1));
        Assert.Throws<ArgumentException>(() => new CmlConfig { WarpNegatives = 0 }.Validate());
    }

    [Fact]
    public void SaveLoadRoundTripRestoresTheWarpSampler()
    {
        var rng = new Rng(5, "cml.warp.state");
        var positives = UserItems.FromLists(7, Enumerable.Range(0, 9).Select(u => (IReadOnlyList<int>)new[] { u % 7 }).ToList());
        var cfg = new CmlConfig { Dim = 4, RankWeighting = CmlRankWeighting.Warp, WarpNegatives = 3 };
        var batches = Enumerable.Range(0, 5).Select(_ => RandomBatch(rng, 8, 1, 9, 7)).ToArray();
        using var a = new CmlModel(cfg, 9, 7, seed: 1, positives: positives);
        for (int s = 0; s < 3; s++) a.TrainStep(batches[s]);
        using var b = new CmlModel(cfg, 9, 7, seed: 2, positives: positives);
        b.LoadState(a.SaveState());
        for (int s = 3; s < 5; s++) Assert.Equal(a.TrainStep(batches[s]), b.TrainStep(batches[s]), 1e-5);
        AssertClose(a.ExportEmbeddings().Items.Select(v => (double)v).ToArray(), b.ExportEmbeddings().Items.Select(v => (double)v).ToArray(), 1e-6, "items");
    }

    [Fact]
    public void TrainingLeaksNoTensors()
    {
        using var model = new CmlModel(new CmlConfig { Dim = 4, RankWeighting = CmlRankWeighting.Warp, WarpNegatives = 5 }, 2, 5, seed: 1, positives: Positives);
        var rng = new Rng(6, "cml.warp.leak");
        model.TrainStep(RandomBatch(rng, 8, 1, 2, 4));
        long live = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int s = 0; s < 30; s++) model.TrainStep(RandomBatch(rng, 8, 1, 2, 4));
        Assert.Equal(live, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }
}

/// <summary>WARP's own negatives (shared by both engines) are the sampler's draws positive by positive, placed after each
/// positive's k trainer negatives — on the batch-fill path that prefetches ahead too.</summary>
public class CmlWarpDrawTests
{
    [Theory]
    [InlineData(1, 5, false)]
    [InlineData(3, 4, true)]
    [InlineData(2, 1, true)]
    public void OwnNegativesAreSampleInOrderAfterTheTrainersK(int k, int u, bool lookahead)
    {
        var rows = Enumerable.Range(0, 9).Select(x => Enumerable.Range(0, 40).Where(i => (i * 7 + x) % 5 == 0).ToArray()).ToArray();
        var positives = UserItems.FromLists(40, rows);
        var sampler = new NegativeSampler(positives) { LookaheadMinPairs = lookahead ? 0 : int.MaxValue };
        var batch = new TrainingBatch(30, k) { Count = 27 };
        for (int x = 0; x < 27; x++)
        {
            batch.Users[x] = x % 9; batch.Positives[x] = rows[x % 9][0];
            for (int j = 0; j < k; j++) batch.Negatives[x * k + j] = 1000 + x * k + j;   // marks: must land in place
        }
        var rng = new Rng(3, "test.warp.draws"); var twin = new Rng(3, "test.warp.draws");
        TrainingBatch? buffer = null;
        var fed = CmlModel.AppendOwnNegatives(batch, u, sampler, rng, ref buffer);
        Assert.Equal(27, fed.Count); Assert.Equal(k + u, fed.NegativesPerPositive);
        var plain = new NegativeSampler(positives);
        for (int x = 0; x < 27; x++)
        {
            Assert.Equal(batch.Users[x], fed.Users[x]); Assert.Equal(batch.Positives[x], fed.Positives[x]);
            for (int j = 0; j < k; j++) Assert.Equal(1000 + x * k + j, fed.Negatives[x * (k + u) + j]);
            for (int j = 0; j < u; j++) Assert.Equal(plain.Sample(batch.Users[x], twin), fed.Negatives[x * (k + u) + k + j]);
        }
    }
}
