using Lrml.Models;
using Lrml.Protocols;
using Lrml.Util;
using static TorchSharp.torch;

namespace Lrml.Tests.Models;

/// <summary>
/// Full ranking of the distance models' torch engines (CML, TransCF) computes ‖p‖² + ‖q‖² − 2 p·q as a matrix product
/// instead of a users × items × d difference tensor (issue 14). It must equal the per-pair difference form — the old
/// scorer's formula, still used by ScorePairs — and a double-precision hand computation, across several user and item
/// chunks.
/// </summary>
[Collection("Torch models")]
public class DistanceScoringTests
{
    private const int Users = 9, Items = 61, Dim = 24;

    private static float[] Gaussian(int n, string stream, double std)
    {
        var rng = new Rng(3, stream);
        return Enumerable.Range(0, n).Select(_ => (float)(rng.NextGaussian() * std)).ToArray();
    }

    private static UserItems RandomTrain()
    {
        var rng = new Rng(4, "distance.train");
        return UserItems.FromLists(Items, Enumerable.Range(0, Users)
            .Select(_ => Enumerable.Range(0, Items).Where(_ => rng.NextDouble() < 0.2).ToArray()).ToArray());
    }

    /// <summary>Every user against every item, in chunks of (budget) pairs, and the same pairs through ScorePairs.</summary>
    private static (float[] All, float[] Pairs) Score(IRecommender model)
    {
        var users = Enumerable.Range(0, Users).ToArray();
        var all = new float[Users * Items];
        model.ScoreAllItems(users, all);
        var pu = Enumerable.Range(0, Users * Items).Select(x => x / Items).ToArray();
        var pi = Enumerable.Range(0, Users * Items).Select(x => x % Items).ToArray();
        var pairs = new float[pu.Length];
        model.ScorePairs(pu, pi, pairs);
        return (all, pairs);
    }

    [Theory]
    [InlineData(ScalarType.Float32, 2e-5)]
    [InlineData(ScalarType.Float64, 1e-6)]   // float64 tensors, but scores come back as float32
    public void CmlMatrixProductEqualsTheDifferenceFormAndHandArithmetic(ScalarType dtype, double tol)
    {
        // rows of norm ≈ 0.7 (inside the unit ball, which construction enforces), some users close to some items
        var p = Gaussian(Users * Dim, "distance.p", 0.14);
        var q = Gaussian(Items * Dim, "distance.q", 0.14);
        for (int j = 0; j < Dim; j++) q[5 * Dim + j] = p[2 * Dim + j] + 1e-4f;   // a near-zero distance: cancellation is worst there
        using var model = new CmlModel(new CmlConfig { Dim = Dim }, Users, Items, p, q, dtype: dtype) { ScoreBudget = 4 * 7 };
        var (all, pairs) = Score(model);
        for (int x = 0; x < all.Length; x++)
        {
            int u = x / Items, i = x % Items;
            double hand = 0;
            for (int j = 0; j < Dim; j++) { double diff = (double)p[u * Dim + j] - q[i * Dim + j]; hand += diff * diff; }
            Assert.True(all[x] <= 0, $"scores are negated squared distances (u{u}, i{i}: {all[x]})");
            Assert.Equal(-hand, all[x], tol);
            Assert.Equal(pairs[x], all[x], tol);
        }
        Assert.True(all[2 * Items + 5] > -1e-5);
    }

    [Theory]
    [InlineData(ScalarType.Float32, 2e-5)]
    [InlineData(ScalarType.Float64, 1e-6)]
    public void TransCfMatrixProductEqualsTheDifferenceForm(ScalarType dtype, double tol)
    {
        var train = RandomTrain();
        var p = Gaussian(Users * Dim, "distance.p", 0.14);
        var q = Gaussian(Items * Dim, "distance.q", 0.14);
        using var model = new TransCfModel(new TransCfConfig { Dim = Dim }, train, p, q, dtype: dtype) { ScoreBudget = 5 * 3 };
        var rng = new Rng(5, "distance.transcf.batch");
        for (int s = 0; s < 3; s++) model.TrainStep(ModelTestSupport.RandomBatch(rng, 16, 1, Users, Items));   // move the rows off their start
        var (all, pairs) = Score(model);
        Assert.Contains(all, v => v < -0.1f);                                                               // not all near zero
        for (int x = 0; x < all.Length; x++) Assert.Equal(pairs[x], all[x], tol);
    }
}
