using Lrml.Models;
using Lrml.Protocols;
using Lrml.Util;
using TorchSharp;
using static Lrml.Tests.Models.ModelTestSupport;
using static TorchSharp.torch;

namespace Lrml.Tests.Models;

/// <summary>TransCF: neighbourhoods, translation, distance, hinge and both regularisers against hand arithmetic (Park et al.
/// ICDM 2018, §III), gradients by finite differences, scoring, projection, neighbour sampling, state and leaks.</summary>
[Collection("Torch models")]
public class TransCfModelTests
{
    // 3 users, 4 items; u0 = {0, 1}, u1 = {1, 2}, u2 = {0}; item 3 has no training user (its neighbourhood is 0).
    private static readonly UserItems Train = UserItems.FromLists(4, [[0, 1], [1, 2], [0]]);
    private static readonly float[] P = [0.3f, -0.2f, 0.1f, 0.5f, -0.4f, 0.2f];
    private static readonly float[] Q = [0.2f, 0.1f, -0.4f, 0.3f, 0.6f, -0.5f, 0.1f, 0.7f];

    private static TransCfModel Tiny(TransCfConfig? c = null) =>
        new(c ?? new TransCfConfig { Dim = 2, Margin = 0.5f, DistanceWeight = 0.3f, NeighbourhoodWeight = 0.2f }, Train, P, Q, dtype: ScalarType.Float64);

    private static double[] V(float[] t, int r) => [t[2 * r], t[2 * r + 1]];

    private static double[] NbrUser(int u) => Mean(Train[u].ToArray().Select(i => V(Q, i)));
    private static double[] NbrItem(int i) => Mean(Enumerable.Range(0, 3).Where(u => Train.Contains(u, i)).Select(u => V(P, u)));
    private static double[] Mean(IEnumerable<double[]> rows)
    {
        var l = rows.ToList();
        return l.Count == 0 ? [0, 0] : [l.Average(r => r[0]), l.Average(r => r[1])];
    }

    /// <summary>s(u,i) = ‖α_u + α_u^nbr ⊙ β_i^nbr − β_i‖².</summary>
    private static double S(int u, int i)
    {
        var a = V(P, u); var b = V(Q, i); var nu = NbrUser(u); var ni = NbrItem(i);
        double s = 0;
        for (int j = 0; j < 2; j++) { double x = a[j] + nu[j] * ni[j] - b[j]; s += x * x; }
        return s;
    }

    private static double Sq(double[] a, double[] b) => (a[0] - b[0]) * (a[0] - b[0]) + (a[1] - b[1]) * (a[1] - b[1]);

    [Fact]
    public void LossMatchesThePapersObjectiveWorkedByHand()
    {
        var batch = Batch([0, 1, 2], [1, 2, 0], [2, 3, 0, 3, 1, 2]);   // k = 2
        using var model = Tiny();
        var (loss, hinge, dist, nbr, gp, gq) = model.ComputeGradients(batch);
        double eh = 0, ed = 0, en = 0;
        for (int x = 0; x < 3; x++)
        {
            int u = batch.Users[x], i = batch.Positives[x];
            for (int j = 0; j < 2; j++) eh += Math.Max(0, 0.5 + S(u, i) - S(u, batch.Negatives[2 * x + j]));
            ed += 2 * S(u, i);
            en += 2 * (Sq(V(P, u), NbrUser(u)) + Sq(V(Q, i), NbrItem(i)));
        }
        Assert.True(eh > 0);
        Assert.Equal(eh, hinge, 10);
        Assert.Equal(0.3 * ed, dist, 6);
        Assert.Equal(0.2 * en, nbr, 6);
        Assert.Equal(eh + 0.3 * ed + 0.2 * en, loss, 6);
        // gradients flow through the neighbourhood means into every neighbour row
        Func<double> f = () => model.ComputeGradients(batch).Loss;
        AssertClose(FiniteDifferences(model.P, f), gp, 1e-6, "dL/dα");
        AssertClose(FiniteDifferences(model.Q, f), gq, 1e-6, "dL/dβ");
    }

    [Fact]
    public void ScoresTranslationAndScoreAllMatchHandArithmetic()
    {
        using var model = Tiny();
        var s = new float[12];
        int[] users = [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2], items = [0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3];
        model.ScorePairs(users, items, s);
        for (int x = 0; x < 12; x++) Assert.Equal(-S(users[x], items[x]), s[x], 6);
        var r = model.Translation(1, 0);
        var nu = NbrUser(1); var ni = NbrItem(0);
        Assert.Equal(nu[0] * ni[0], r[0], 6);
        Assert.Equal(nu[1] * ni[1], r[1], 6);
        Assert.Equal([0f, 0f], model.Translation(0, 3));                  // item without users: no translation
        model.ScoreBudget = 2 * 2;
        var all = new float[12];
        model.ScoreAllItems([0, 1, 2], all);
        for (int x = 0; x < 12; x++) Assert.Equal(s[x], all[x], 6);
    }

    [Theory]
    [InlineData(TransCfProjection.Epoch)]
    [InlineData(TransCfProjection.Step)]
    public void ProjectionKeepsRowsInTheUnitBall(TransCfProjection projection)
    {
        var big = P.Select(v => v * 9).ToArray();
        using var model = new TransCfModel(new TransCfConfig { Dim = 2, Projection = projection, LearningRate = 0.05f }, Train, big, Q.Select(v => v * 9).ToArray());
        model.TrainStep(Batch([0, 1], [1, 2], [3, 0]));
        var (u, _) = model.ExportEmbeddings();
        double maxAfterStep = Enumerable.Range(0, 3).Max(r => Norm(u.AsSpan(2 * r, 2)));
        if (projection == TransCfProjection.Step) Assert.True(maxAfterStep <= 1 + 1e-6);
        else Assert.True(maxAfterStep > 1.5);                              // epoch mode waits for the epoch end
        model.EndEpoch(1);
        var (u2, i2) = model.ExportEmbeddings();
        Assert.True(Enumerable.Range(0, 3).Max(r => Norm(u2.AsSpan(2 * r, 2))) <= 1 + 1e-6);
        Assert.True(Enumerable.Range(0, 4).Max(r => Norm(i2.AsSpan(2 * r, 2))) <= 1 + 1e-6);
    }

    [Fact]
    public void NeighbourSamplingIsExactWhenTheSampleCoversEveryBagAndStochasticOtherwise()
    {
        var rng = new Rng(3, "transcf.batches");
        var train = UserItems.FromLists(12, Enumerable.Range(0, 10).Select(u => (IReadOnlyList<int>)Enumerable.Range(0, 12).Where(i => (i + u) % 3 != 0).ToList()).ToList());
        var batch = RandomBatch(rng, 16, 1, 10, 12);
        var cfg = new TransCfConfig { Dim = 4, InitStd = 0.3f };
        using var exact = new TransCfModel(cfg, train, seed: 5, dtype: ScalarType.Float64);
        using var covered = new TransCfModel(cfg with { NeighbourSample = 1000 }, train, seed: 5, dtype: ScalarType.Float64);
        using var sampled = new TransCfModel(cfg with { NeighbourSample = 2 }, train, seed: 5, dtype: ScalarType.Float64);
        double a = exact.TrainStep(batch), b = covered.TrainStep(batch), c = sampled.TrainStep(batch);
        Assert.Equal(a, b, 12);
        Assert.NotEqual(a, c);
        Assert.True(double.IsFinite(c));
    }

    [Fact]
    public void SaveLoadRoundTripIncludesTheNeighbourSampler()
    {
        var rng = new Rng(4, "transcf.state");
        var cfg = new TransCfConfig { Dim = 3, NeighbourSample = 1 };
        var batches = Enumerable.Range(0, 4).Select(_ => RandomBatch(rng, 6, 2, 3, 4)).ToArray();
        using var a = new TransCfModel(cfg, Train, seed: 1);
        for (int s = 0; s < 2; s++) a.TrainStep(batches[s]);
        using var b = new TransCfModel(cfg, Train, seed: 2);
        b.LoadState(a.SaveState());
        for (int s = 2; s < 4; s++) Assert.Equal(a.TrainStep(batches[s]), b.TrainStep(batches[s]), 1e-5);
        var sa = new float[12]; var sb = new float[12];
        a.ScoreAllItems([0, 1, 2], sa); b.ScoreAllItems([0, 1, 2], sb);
        AssertClose(sa.Select(v => (double)v).ToArray(), sb.Select(v => (double)v).ToArray(), 1e-6, "scores");   // same weights; BLAS may differ in the last bit
    }

    [Fact]
    public void TrainingLeaksNoTensors()
    {
        using var model = new TransCfModel(new TransCfConfig { Dim = 4, NeighbourSample = 2 }, Train, seed: 1);
        var rng = new Rng(6, "transcf.leak");
        model.TrainStep(RandomBatch(rng, 8, 2, 3, 4));
        model.ScoreAllItems([1, 2], new float[8]);
        long live = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int s = 0; s < 30; s++) model.TrainStep(RandomBatch(rng, 8, 2, 3, 4));
        model.EndEpoch(1);
        model.ScoreAllItems([1, 2], new float[8]);     // rebuilds the cached neighbourhood tables (replacing the old ones)
        Assert.Equal(live, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }
}
